"""The self-test as a generator of events: one CheckDone per check, then SelftestFinished.

Everything it makes goes to a temporary folder (images, the project store, the exported ONNX backbone and
the embedding cache), so a passing self-test proves a fresh start works and leaves nothing behind but one
record in the log. Heavy imports wait for the checks: the launcher imports this module on every start."""
from __future__ import annotations

import csv
import logging
import os
import platform
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from core.logs import configured_path
from core.models.backbones import CACHE_ENV, DEFAULT_BACKBONE, get_backbone

log = logging.getLogger(__name__)

COLOURS = {"red": (215, 45, 35), "blue": (35, 70, 215)}
TRAIN_PER_CLASS = 8
CLASSIFY_PER_CLASS = 3
INPUT_SIZE = 96  # small images: a small network input keeps the whole test to seconds on a laptop CPU
AGREEMENT_TOLERANCE = 1e-3  # ONNX Runtime vs torch, largest difference relative to the features' scale


@dataclass(frozen=True)
class Check:
    """A check another layer adds (the window's Qt, from desktop/): run() returns what it found, for the log,
    or raises with what is wrong."""

    name: str
    run: Callable[[], str]


@dataclass(frozen=True)
class CheckDone:
    name: str
    passed: bool
    seconds: float
    detail: str  # what was found, or why it failed


@dataclass(frozen=True)
class SelftestFinished:
    passed: bool
    checks: tuple[CheckDone, ...]
    version: str
    platform: str
    device: str
    frozen: bool
    seconds: float


def colour_images(folder: Path, per_class: int, offset: int = 0) -> Path:
    """folder/<class>/<i>.png: each class one colour, a white square that moves from image to image."""
    from PIL import Image, ImageDraw

    for name, (r, g, b) in COLOURS.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(offset, offset + per_class):
            image = Image.new("RGB", (64, 48), (r, min(255, g + 5 * i), b))
            x = 2 + (i * 7) % 50
            ImageDraw.Draw(image).rectangle((x, 1, x + 10, 12), fill=(255, 255, 255))
            image.save(folder / name / f"{name}-{i}.png")
    return folder


class _Selftest:
    def __init__(self, work: Path):
        self.work = work
        self.device = "cpu"
        self.spec = None
        self.extractor = None  # the torch network, kept for comparing ONNX Runtime with it
        self.project_root = work / "project"
        self.run_id = None

    def backbone(self) -> str:
        import torch

        from core.models.backbone_nets import build_feature_extractor
        from core.training.devices import detect_devices

        self.spec = get_backbone(DEFAULT_BACKBONE)
        self.extractor = build_feature_extractor(self.spec).eval()
        with torch.no_grad():
            out = self.extractor(torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE))
        if tuple(out.shape) != (1, self.spec.feature_dim):
            raise RuntimeError(f"features of shape {tuple(out.shape)}, expected (1, {self.spec.feature_dim})")
        gpus = next(detect_devices()).gpus
        self.device = gpus[0].name if gpus else "cpu"
        found = ", ".join(g.title for g in gpus) or "no GPU"
        return f"{self.spec.name} from its bundled weights, torch {torch.__version__}, {found}"

    def store(self) -> str:
        from core.importing.scanning import import_folder
        from core.project import Project

        colour_images(self.project_root, TRAIN_PER_CLASS)
        with Project.open(self.project_root) as project:
            finished = list(import_folder(project, labels_from_subfolders=True))[-1]
        summary = finished.summary
        if summary.found != 2 * TRAIN_PER_CLASS:
            raise RuntimeError(f"imported {summary.found} of {2 * TRAIN_PER_CLASS} images")
        return f"{summary.found} images imported and labelled from their folders"

    def train(self) -> str:
        from core.models.heads import HeadConfig
        from core.project import Project
        from core.training.runner import RunFinished, TrainConfig, train

        config = TrainConfig(head=HeadConfig(max_epochs=10, patience=None), device=self.device,
                             input_size=INPUT_SIZE)
        with Project.open(self.project_root, create=False) as project:
            finished = [e for e in train(project, config, "the self-test") if isinstance(e, RunFinished)][-1]
        if finished.status != "finished" or finished.model_path is None:
            raise RuntimeError(f"the run ended {finished.status}")
        self.run_id = finished.run_id
        return f"run {finished.run_id} on {self.device}, {len(finished.metrics)} metrics"

    def classify(self) -> str:
        from core.classify.inference import ClassifyFinished, ClassifyRequest, classify_folder

        target = colour_images(self.work / "new", CLASSIFY_PER_CLASS, offset=TRAIN_PER_CLASS)
        request = ClassifyRequest(target=target, model=self.project_root, run_id=self.run_id,
                                  output=self.work / "predictions.csv", device=self.device)
        summary = [e for e in classify_folder(request) if isinstance(e, ClassifyFinished)][-1].summary
        with open(summary.output, encoding="utf-8", newline="") as rows:
            wrong = [row["path"] for row in csv.DictReader(rows) if not row["path"].startswith(row["predicted"] + "/")]
        if summary.classified != 2 * CLASSIFY_PER_CLASS or wrong:
            raise RuntimeError(f"{len(wrong)} of {summary.classified} new images in the wrong class: {wrong[:3]}")
        return f"{summary.classified} new images, each in its class"

    def agreement(self) -> str:
        """The embeddings of the new images from ONNX Runtime (the CPU path) and from torch (training, GPUs)."""
        import numpy as np
        import torch

        from core.features.embedder import Embedder
        from core.models.bundles import load_model
        from core.models.preprocessing import load_preprocessed

        spec = load_model(self.project_root, self.run_id).spec  # the input size the run used: its ONNX export
        paths = sorted((self.work / "new").rglob("*.png"))
        batch = np.stack([load_preprocessed(p, spec.preprocessing)[0] for p in paths])
        onnx = Embedder(spec, "cpu", runtime="auto").embed(batch)
        with torch.no_grad():
            eager = self.extractor(torch.from_numpy(batch)).numpy()
        difference = float(np.abs(onnx - eager).max() / max(1e-6, float(np.abs(eager).max())))
        if not difference <= AGREEMENT_TOLERANCE:
            raise RuntimeError(f"ONNX Runtime and torch differ by {difference:.2g} (relative), more than "
                               f"{AGREEMENT_TOLERANCE:g}")
        return f"largest relative difference {difference:.1e} over {len(paths)} images"

    @staticmethod
    def log_file() -> str:
        path = configured_path()
        if path is None:
            raise RuntimeError("no log file is open (see the message above about the log folder)")
        mark = f"self-test log check {uuid.uuid4().hex}"
        log.info(mark)
        for handler in logging.getLogger().handlers:
            handler.flush()
        if mark not in path.read_text(encoding="utf-8", errors="replace"):
            raise RuntimeError(f"a record written to {path} is not in it")
        return str(path)


def run_selftest(version: str, extra: Sequence[Check] = ()) -> Iterator[object]:
    """Run every check, in order, even after one failed (each says what it found); a check that needs an
    earlier one's result fails with that one's reason."""
    started = time.perf_counter()
    done: list[CheckDone] = []
    saved_cache = os.environ.get(CACHE_ENV)
    with tempfile.TemporaryDirectory(prefix="dovecote-selftest-") as folder:
        work = Path(folder)
        os.environ[CACHE_ENV] = str(work / "cache")  # a fresh ONNX export, none of the user's caches touched
        try:
            test = _Selftest(work)
            checks = [Check("backbone", test.backbone), Check("store", test.store), Check("train", test.train),
                      Check("classify", test.classify), Check("onnx-vs-torch", test.agreement),
                      *extra, Check("log", test.log_file)]
            for check in checks:
                done.append(_run(check, [d for d in done if not d.passed]))
                yield done[-1]
        finally:
            if saved_cache is None:
                os.environ.pop(CACHE_ENV, None)
            else:
                os.environ[CACHE_ENV] = saved_cache
    yield SelftestFinished(all(d.passed for d in done), tuple(done), version, _platform(),
                           test.device, bool(getattr(sys, "frozen", False)), time.perf_counter() - started)


NEEDS = {"train": ("backbone", "store"), "classify": ("train",), "onnx-vs-torch": ("backbone", "train", "classify")}


def _run(check: Check, failed: list[CheckDone]) -> CheckDone:
    blocked = [d.name for d in failed if d.name in NEEDS.get(check.name, ())]
    if blocked:
        return CheckDone(check.name, False, 0.0, f"not run: {', '.join(blocked)} failed")
    started = time.perf_counter()
    try:
        detail = check.run()
        passed = True
    except Exception as error:  # noqa: BLE001 - every failure is the test's finding, reported, never raised
        log.error("self-test %s failed:\n%s", check.name, traceback.format_exc())
        detail, passed = f"{type(error).__name__}: {error}", False
    result = CheckDone(check.name, passed, time.perf_counter() - started, detail)
    log.info("self-test %s %s in %.2f s: %s", check.name, "passed" if passed else "FAILED", result.seconds, detail)
    return result


def _platform() -> str:
    return f"{platform.system()} {platform.release()} {platform.machine()}, Python {platform.python_version()}"


def verdict_line(finished: SelftestFinished) -> str:
    """The one line a user pastes into a support request."""
    failed = [c for c in finished.checks if not c.passed]
    head = "PASSED" if finished.passed else "FAILED " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
    timings = ", ".join(f"{c.name} {c.seconds:.1f} s" for c in finished.checks)
    frozen = "bundled app" if finished.frozen else "from source"
    return (f"dovecote selftest {head} | dovecote {finished.version} ({frozen}) | {finished.platform} | "
            f"device {finished.device} | {timings} | total {finished.seconds:.1f} s")
