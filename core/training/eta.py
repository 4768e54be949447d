"""An honest ETA while a run goes: the plan's figures at first, then what the run itself measures.

Feed it every event of the run (and the time it arrived); it tells the current phase, how far it is, its
images a second, and the time left in the phase and in the whole run. Within a phase the measured pace takes
over as soon as there is something to measure; the phases still to come are scaled by how much faster or
slower than planned this computer runs today."""
from __future__ import annotations

from core.events import Progress
from core.models.heads import EpochEnded
from core.training.finetune import PROGRESS_PHASE as FINE_TUNE_PROGRESS
from core.training.plan import FEATURES, FINE_TUNE, HEAD, PhaseStarted, TrainingPlan

# Below this much of a phase measured, the plan still has a say in the phase's ETA.
_TRUST_S = 5.0
_FACTOR_LIMITS = (0.25, 4.0)


class EtaTracker:
    def __init__(self, plan: TrainingPlan, now: float):
        self.plan = plan
        self.key: str | None = None
        self.fraction = 0.0  # of the current phase
        self.images_per_s: float | None = None
        self.factor = 1.0  # measured / planned duration, for the phases to come
        self._started = now
        self._progress_start: tuple[float, int, float] | None = None  # (time, done, fraction) at the first Progress
        self._head_eta: float | None = None
        self._done: set[str] = set()

    @property
    def phase(self):
        return self.plan.phase(self.key) if self.key else None

    def update(self, event: object, now: float) -> None:
        if isinstance(event, PhaseStarted):
            if self.key is not None:
                self._finish(now)
            self.key, self.fraction, self._started = event.key, 0.0, now
            self._progress_start, self._head_eta, self.images_per_s = None, None, None
        elif isinstance(event, EpochEnded):
            self.images_per_s = event.images_per_s
            if event.phase == HEAD:
                self._head_eta = event.eta_s
                self.fraction = 1.0 if event.eta_s == 0 else event.epoch / max(1, self.phase.work)
        elif isinstance(event, Progress) and event.total:
            if self.key == FINE_TUNE and event.phase != FINE_TUNE_PROGRESS:
                return  # caching the frozen blocks' outputs: the training's pace is measured from its start
            self.fraction = min(1.0, event.done / event.total)  # fine-tuning counts all its epochs
            if self.key in (FEATURES, FINE_TUNE):
                if self._progress_start is None:
                    self._progress_start = (now, event.done, self.fraction)
                elif now > self._progress_start[0] + 0.5:
                    self.images_per_s = (event.done - self._progress_start[1]) / (now - self._progress_start[0])

    def phase_left(self, now: float) -> float:
        phase = self.phase
        if phase is None:
            return 0.0
        elapsed = now - self._started
        planned = max(phase.seconds * self.factor - elapsed, 0.0)
        if self.key == HEAD and self._head_eta is not None:
            return self._head_eta  # the head knows its own budget, epoch by epoch
        if self.fraction <= 0 or elapsed <= 0:
            return max(planned, 1.0) if phase.seconds else planned
        measured = elapsed * (1 - self.fraction) / self.fraction
        if self.key == FINE_TUNE and self._progress_start is not None and now > self._progress_start[0]:
            # From the first training step: the cache built before it does not repeat.
            t0, _, fraction0 = self._progress_start
            share = self.fraction - fraction0
            if share > 0:
                measured = (now - t0) * (1 - self.fraction) / share
        trust = min(1.0, self.fraction * 4 + elapsed / _TRUST_S)
        return trust * measured + (1 - trust) * planned

    def total_left(self, now: float) -> float:
        later, seen = 0.0, self.key is None
        for phase in self.plan.phases:
            if seen and phase.key not in self._done:
                later += phase.seconds * self.factor
            if phase.key == self.key:
                seen = True
        return self.phase_left(now) + later

    def _finish(self, now: float) -> None:
        """A phase ended: how long it took against its plan scales the phases to come."""
        phase = self.phase
        self._done.add(self.key)
        elapsed = now - self._started
        if phase is not None and self.key in (FEATURES, FINE_TUNE) and phase.seconds > 1.0 and elapsed > 1.0:
            low, high = _FACTOR_LIMITS
            self.factor = min(high, max(low, elapsed / phase.seconds))
