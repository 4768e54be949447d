"""Batch classification of a folder with a trained model, as a generator of events.

Streaming: the folder is walked lazily, images are decoded a few batches ahead by a thread pool (Pillow
decodes without the GIL) while the network runs on the batch before, and each batch's rows are written
(and its files sorted) before the next event is yielded. Memory stays flat whatever the folder's size, and
closing the generator (cancel, Ctrl+C) leaves a consistent partial CSV that `resume` continues."""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from core.errors import DovecoteError, InvalidRequest, NotAFolder
from core.events import Notice, Progress
from core.features.predictor import Predictor
from core.classify.batches import decoded_images, in_batches, predicted
from core.classify.precision import CHOICES as PRECISIONS, choose_precision
from core.classify.results_csv import OK, ResultsCsv, partial_path
from core.classify.shards import shard_of
from core.storage.paths import escaped, shown
from core.importing.walk import walk_images
from core.classify.sorting import UNSURE, MoveJournal, Sorter, check_journal_path, default_destination

log = logging.getLogger(__name__)

DEFAULT_OUTPUT = "dovecote-predictions.csv"
SORT_MODES = ("copy", "move")
PHASE = "Classifying"
UNREADABLE = "unreadable"
_LISTED_UNREADABLE = 200  # the summary names this many bad files; the CSV lists all of them


@dataclass(frozen=True)
class ClassifyRequest:
    target: Path
    model: str | os.PathLike | None = None  # a project folder (its latest finished run) or a model file
    run_id: int | None = None  # with a project folder: this run's model instead
    output: Path | None = None  # default: TARGET/dovecote-predictions.csv
    overwrite: bool = False
    resume: bool = False
    sort: str | None = None  # "copy" or "move" into `into`
    into: Path | None = None
    journal: Path | None = None  # where a move's journal goes (default: in `into`)
    min_confidence: float | None = None  # below it an image is "unsure" instead of its most likely class
    batch_size: int = 32
    device: str = "auto"
    follow_links: bool = False  # also read images that links point to outside the target
    shard: tuple[int, int] | None = None  # (K, N): only the K-th of N parts of the sorted paths (core.classify.shards)
    precision: str = "auto"  # "auto" (int8 where the model's check passed, on a CPU), "fp32" or "int8"


@dataclass(frozen=True)
class ClassifyStarted:
    classes: tuple[str, ...]
    total: int  # images to classify now (those a resumed CSV already lists are not counted)
    already_done: int
    output: Path
    partial: Path  # where rows go until the run completes
    device: str
    journal: Path | None
    precision: str = "fp32"  # the backbone's: "fp32" or "int8"
    precision_note: str = ""  # why, for a person (core.classify.precision)


@dataclass
class ClassifySummary:
    counts: dict[str, int]  # per class, in the model's order; the whole CSV (resumed rows included)
    unsure: int = 0
    unreadable: int = 0
    unreadable_files: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), the first few
    classified: int = 0  # images handled by this run
    already_done: int = 0
    seconds: float = 0.0
    output: Path | None = None
    into: Path | None = None
    journal: Path | None = None
    skipped: Counter = field(default_factory=Counter)  # reason -> entries left out (see core.importing.walk)
    precision: str = "fp32"
    precision_note: str = ""

    @property
    def images_per_s(self) -> float:
        return self.classified / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ClassifyFinished:
    summary: ClassifySummary


def resolve_request(request: ClassifyRequest) -> ClassifyRequest:
    """Absolute paths, defaults filled in, and every mistake a user can make reported before any work."""
    target = Path(request.target).expanduser().resolve()
    if not target.is_dir():
        raise NotAFolder(f"{target} is not a folder. Give the folder whose images you want classified.")
    output = Path(request.output).expanduser().resolve() if request.output else target / DEFAULT_OUTPUT
    if request.overwrite and request.resume:
        raise InvalidRequest("Choose either --overwrite (start again) or --resume (continue), not both.")
    if request.min_confidence is not None and not 0.0 <= request.min_confidence <= 1.0:
        raise InvalidRequest(f"--min-confidence must be between 0 and 1 (e.g. 0.8), not {request.min_confidence}.")
    if request.batch_size < 1:
        raise InvalidRequest("--batch-size must be at least 1.")
    into = journal = None
    if request.sort is not None:
        if request.sort not in SORT_MODES:
            raise InvalidRequest(f"--sort must be copy or move, not {request.sort!r}.")
        if request.into is None:
            raise InvalidRequest("--sort needs --into DIR: the folder that gets a subfolder per class.")
        into = Path(request.into).expanduser().resolve()
        if into == target:
            raise InvalidRequest(f"--into must be a folder of its own, not {into}; e.g. {default_destination(target)}.")
        if into.exists() and not into.is_dir():
            raise NotAFolder(f"{into} is a file; --into needs a folder (it is created if missing).")
        if request.sort == "move":
            journal = Path(request.journal).expanduser().resolve() if request.journal else None
            if journal is not None:
                check_journal_path(journal)
    elif request.into is not None:
        raise InvalidRequest("--into needs --sort copy or --sort move.")
    if request.shard is not None and not 1 <= request.shard[0] <= request.shard[1]:
        raise InvalidRequest(f"--shard {request.shard[0]}/{request.shard[1]}: K must be between 1 and N.")
    if request.precision not in PRECISIONS:
        raise InvalidRequest(f"--precision must be {', '.join(PRECISIONS)}, not {request.precision!r}.")
    ResultsCsv.check(output, request.overwrite, request.resume)
    return dataclasses.replace(request, target=target, output=output, into=into, journal=journal)


class LocalEngine:
    """Classifies in this process: decoding a few batches ahead in threads, the network on the batch before."""

    def __init__(self, predictor, precision_note: str = ""):
        self.predictor = predictor
        self.device = str(getattr(predictor, "device", "cpu"))
        self.precision = getattr(predictor, "precision", "fp32")
        self.precision_note = precision_note

    def rows(self, root: Path, todo: Iterator[str], prep, batch_size: int) -> Iterator[list[tuple[str, object]]]:
        """Batches of (relative path, probabilities or the reason the file could not be read), in `todo` order."""
        decoded = decoded_images(root, todo, prep, batch_size)
        try:
            for chunk in in_batches(decoded, batch_size):
                yield predicted(chunk, self.predictor)
        finally:
            decoded.close()

    def detail(self, done: int, total: int, seconds: float) -> str:
        return ""  # the progress bar shows the rate and the time left


def local_engine(bundle, request: ClassifyRequest) -> LocalEngine:
    """This process's engine, with the int8 backbone where the model allows it (core.classify.precision)."""
    from core.features.embedder import resolve_device

    precision, note = choose_precision(bundle, request.precision, resolve_device(request.device) == "cpu")
    return LocalEngine(Predictor(bundle, request.device, precision), note)


def load_bundle(request: ClassifyRequest):
    if request.model is None:
        raise InvalidRequest("Which model? Give --model: a project folder or an exported model file.")
    from core.models.bundles import load_model

    return load_model(request.model, request.run_id)


def classify_folder(request: ClassifyRequest, bundle=None, predictor=None, engine=None) -> Iterator[object]:
    """Classify every image under request.target (recursively, hidden files and the --into folder left out).

    `bundle` is a loaded model (core.models.bundles.ModelBundle); without it request.model is loaded.
    `predictor` turns its preprocessed batches into probabilities (default: core.features.predictor.Predictor
    on request.device). `engine` runs the work elsewhere (core.classify.cluster.ClusterEngine); the CSV,
    sorting and journal are still written here, as rows arrive. Yields Progress, ClassifyStarted, a Notice
    per unreadable file, then ClassifyFinished once the CSV is complete."""
    request = resolve_request(request)
    yield Progress("Loading the model", 0, None)
    if bundle is None:
        bundle = load_bundle(request)
    if engine is None:
        engine = LocalEngine(predictor) if predictor is not None else local_engine(bundle, request)
    classes = list(bundle.classes)
    # Never read what a run writes: the destination, the results and (through its marker) an earlier destination.
    skip = {request.output, partial_path(request.output)} | ({request.into} if request.into else set())

    results = ResultsCsv(request.output, classes, request.overwrite, request.resume)
    sorter = journal = rows = None
    try:
        total, skipped, listed = 0, Counter(), []
        walked = walk_images(request.target, skip, follow_links=request.follow_links, skip_sorted=True,
                             skipped=skipped)
        for seen, (rel, _) in enumerate(walked, start=1):
            if request.shard:
                listed.append(rel)
            else:
                total += escaped(rel) not in results.done
            if seen % 1000 == 0:
                yield Progress("Looking for images", seen, None)
        if request.shard:
            listed = [rel for rel in shard_of(listed, *request.shard) if escaped(rel) not in results.done]
            total = len(listed)
        if request.sort == "move":
            journal = MoveJournal(request.journal or MoveJournal.default_path(request.into), request.target,
                                  request.into)
        if request.sort:
            sorter = Sorter(request.into, classes, request.sort == "move", journal)
        summary = _summary_from(results, classes, request)
        summary.skipped = skipped
        summary.journal = journal.path if journal else None
        summary.precision, summary.precision_note = engine.precision, engine.precision_note
        yield ClassifyStarted(tuple(classes), total, len(results.done), request.output, results.partial,
                              engine.device, summary.journal, engine.precision, engine.precision_note)
        yield Progress(PHASE, 0, total)
        started = time.perf_counter()
        todo = iter(listed) if request.shard else (
            rel for rel, _ in walk_images(request.target, skip, follow_links=request.follow_links, skip_sorted=True)
            if escaped(rel) not in results.done)
        rows = engine.rows(request.target, todo, bundle.preprocessing, request.batch_size)
        for chunk in rows:
            notices = _record_chunk(chunk, classes, request, results, sorter, summary)
            results.flush()
            summary.seconds = time.perf_counter() - started
            yield from notices
            yield Progress(PHASE, summary.classified, total,
                           engine.detail(summary.classified, total, summary.seconds) or chunk[-1][0])
        summary.output = results.finish()
    finally:  # also on cancel: the rows so far stay in the partial CSV, the journal is complete
        if rows is not None:
            rows.close()
        results.close()
        if sorter is not None:
            sorter.close()
    yield ClassifyFinished(summary)


def _summary_from(results: ResultsCsv, classes: list[str], request: ClassifyRequest) -> ClassifySummary:
    """Counts start from the rows a resumed CSV already has, so the summary describes the whole CSV."""
    previous = results.previous
    return ClassifySummary(counts={c: previous.get(c, 0) for c in classes},
                           unsure=previous.get(UNSURE, 0) if UNSURE not in classes else 0,
                           unreadable=previous.get(UNREADABLE, 0), already_done=len(results.done),
                           output=request.output, into=request.into)


def _record_chunk(chunk, classes, request, results: ResultsCsv, sorter, summary) -> list[Notice]:
    """Write each row of a predicted chunk (after sorting its file), in order."""
    notices = []
    for rel, item in chunk:
        summary.classified += 1
        if isinstance(item, str):  # the reason it could not be read
            log.info("Skipped unreadable %s: %s", rel, item)
            summary.unreadable += 1
            if len(summary.unreadable_files) < _LISTED_UNREADABLE:
                summary.unreadable_files.append((shown(rel), item))
            results.write(rel, item)
            notices.append(Notice(f"{shown(rel)}: {item}"))
            continue
        probs = item
        best = int(np.argmax(probs))
        confidence = float(probs[best])
        unsure = request.min_confidence is not None and confidence < request.min_confidence
        if sorter is not None:
            try:
                sorter.place(request.target / rel, None if unsure else classes[best])
            except OSError as error:
                raise DovecoteError(
                    f"Cannot {request.sort} {shown(rel)} into {request.into} ({error.strerror or error}). The results so "
                    f"far are in {results.partial}; fix this, then run the same command with --resume.") from None
        if unsure:
            summary.unsure += 1
        else:
            summary.counts[classes[best]] += 1
        results.write(rel, OK, UNSURE if unsure else classes[best], confidence, probs)
    return notices
