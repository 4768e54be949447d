"""A run's progress while it goes: the phases (done, current, to come), the current phase's bar, images a
second, and the time left in the phase and in total (EtaTracker: the plan's figures, then measured ones),
with Cancel. The figures are redrawn every second as well as on each event, since time passes between."""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from core.events import Notice, Progress
from core.training.eta import EtaTracker
from core.training.plan import PhaseStarted, TrainingPlan
from desktop.widgets.icons import icon

BAR_STEPS = 1000


def duration_text(seconds: float | None) -> str:
    """"about 40 s", "about 3 min", "about 1 h 20 min"."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 10:
        return "a few seconds"
    if seconds < 90:
        return f"about {round(seconds / 5) * 5:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60:02d} min"


class ProgressPanel(QWidget):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel()
        self.title.setObjectName("runTitle")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.phases = QLabel()
        self.phases.setTextFormat(Qt.TextFormat.RichText)
        self.phases.setWordWrap(True)  # never wider than the view: the window must not grow
        self.bar = QProgressBar()
        self.bar.setRange(0, BAR_STEPS)
        self.detail = QLabel()
        self.detail.setObjectName("runDetail")
        self.detail.setWordWrap(True)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.cancel = QPushButton(icon("cancel"), "Stop")
        self.cancel.setToolTip("Stop the run; the best model so far is kept")
        self.cancel.clicked.connect(self._cancel)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.cancel)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(top)
        column.addWidget(self.phases)
        column.addWidget(self.bar)
        column.addWidget(self.detail)
        column.addWidget(self.notice)
        self.tracker: EtaTracker | None = None
        self._phase_text = ""
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._render)
        self.hide()

    def begin(self, title: str) -> None:
        self.tracker = None
        self.title.setText(title)
        self.phases.clear()
        self.notice.clear()
        self.detail.setText("Starting…")
        self.bar.setRange(0, 0)  # busy until the plan arrives
        self.cancel.setEnabled(True)
        self.cancel.setText("Stop")
        self.cancel.show()
        self.show()
        self._ticker.start()

    def on_event(self, event: object) -> None:
        now = time.monotonic()
        if isinstance(event, TrainingPlan):
            self.tracker = EtaTracker(event, now)
            self.bar.setRange(0, BAR_STEPS)
        elif self.tracker is not None:
            self.tracker.update(event, now)
        if isinstance(event, Notice):
            self.notice.setText(event.message)
        if isinstance(event, Progress) and event.detail:
            self._phase_text = event.detail
        elif isinstance(event, PhaseStarted):
            self._phase_text = ""
        self._render()

    def end(self, text: str, completed: bool) -> None:
        self._ticker.stop()
        self.cancel.hide()
        self.bar.setRange(0, BAR_STEPS)
        self.detail.setText(text)
        if self.tracker is not None and completed:
            self.bar.setValue(BAR_STEPS)
            self.phases.setText(self._phases_html(finished=True))

    def _cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.cancel.setText("Stopping…")
        self.cancel_requested.emit()

    def _render(self) -> None:
        tracker = self.tracker
        if tracker is None:
            return
        now = time.monotonic()
        self.phases.setText(self._phases_html())
        self.bar.setValue(round(tracker.fraction * BAR_STEPS))
        parts = []
        if tracker.images_per_s:
            parts.append(f"{tracker.images_per_s:,.0f} images/s")
        if tracker.phase is not None:
            parts.append(f"this step: {duration_text(tracker.phase_left(now))} left")
        parts.append(f"in all: {duration_text(tracker.total_left(now))} left")
        if self._phase_text and not self._phase_text.startswith(("epoch", "fold")):
            parts.append(self._phase_text)
        self.detail.setText("   ·   ".join(parts))

    def _phases_html(self, finished: bool = False) -> str:
        tracker, items, passed = self.tracker, [], True
        for phase in tracker.plan.phases:
            if phase.key == tracker.key and not finished:
                items.append(f"<b>▶ {phase.title}</b>")
                passed = False
            elif passed and (tracker.key is not None):
                items.append(f"✓ {phase.title}")
            else:
                items.append(f'<span style="color:gray">{phase.title}</span>')
        return "  ·  ".join(items)
