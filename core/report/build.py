"""The run report: gathers a run's evaluation, training curves, settings and thumbnails of its worst
mistakes from the project, and writes one self-contained HTML file (core/report_html.py renders it)."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from core.atomic import write_text
from core.models.bundles import app_version
from core.errors import DovecoteError
from core.evaluation.metrics import roc_curves
from core.images.decode import ImageError
from core.report.html import EpochPoint, Mistake, ReportData, render_report
from core.evaluation.run_evaluation import Evaluation, load_evaluation
from core.storage import catalog, labels, runs
from core.images.thumbnails import ThumbnailCache

TOP_MISTAKES = 24
GREY = "#7f7f7f"


def build_report(project, run_id: int, top: int = TOP_MISTAKES) -> ReportData:
    """Everything the report shows, for a run whose out-of-fold predictions are stored."""
    ev = load_evaluation(project, run_id)
    with project.session() as session:
        run = runs.get_run(session, ev.run_id)
        epochs = runs.epochs(session, ev.run_id)
        summary = catalog.summary(session)
        colours = {c.id: c.colour for c in labels.list_classes(session)}
        worst = _worst_mistakes(ev, top)
        rows = {row.id: row for row in catalog.images_by_ids(session, [ev.image_ids[i] for i in worst])}
    suspects = {s.image_id for s in ev.suspects}
    thumbs = ThumbnailCache(project.thumbnails_dir)
    mistakes = []
    for i in worst:
        image_id = ev.image_ids[i]
        predicted = int(ev.proba[i].argmax())
        mistakes.append(Mistake(ev.paths[image_id], ev.class_names[ev.labels[i]], ev.class_names[predicted],
                                float(ev.proba[i, predicted]), image_id in suspects,
                                _thumbnail(project.root, thumbs, rows.get(image_id))))
    return ReportData(
        project_name=project.root.name, run_id=run.id, run_status=run.status,
        started=_when(run.started_at), backbone=run.backbone, metrics=ev.metrics, confusion=ev.confusion,
        folds=ev.folds, class_colours=[colours.get(c, GREY) for c in ev.class_ids],
        roc=roc_curves(ev.labels, ev.proba, ev.class_names), mistakes=mistakes, suspects_total=len(ev.suspects),
        settings=_settings(run, ev), data_summary=_data_summary(run, summary, ev),
        epochs=[EpochPoint(e.phase, e.epoch, e.train_loss, e.val_loss, e.train_acc, e.val_acc) for e in epochs],
        app_version=app_version(), generated=_when(datetime.now(timezone.utc)),
    )


def write_report(project, run_id: int, out: str | os.PathLike, top: int = TOP_MISTAKES) -> Path:
    """Render and write atomically (a half-written report never replaces a good one)."""
    out = Path(out).expanduser().resolve()
    html = render_report(build_report(project, run_id, top))
    try:
        write_text(out, html)
    except OSError as error:
        raise DovecoteError(f"Cannot write the report to {out} ({error.strerror}); choose another --out.") from None
    return out


def _worst_mistakes(ev: Evaluation, top: int) -> list[int]:
    """Rows predicted wrongly out of fold, the strongest disagreement p(predicted) - p(given) first."""
    rows = np.arange(len(ev.labels))
    margin = ev.proba.max(axis=1) - ev.proba[rows, ev.labels]
    wrong = np.flatnonzero(ev.proba.argmax(axis=1) != ev.labels)
    return sorted(wrong.tolist(), key=lambda i: (-margin[i], i))[:top]


def _thumbnail(root: Path, cache: ThumbnailCache, row) -> bytes | None:
    if row is None or not row.content_hash:
        return None
    try:
        return cache.get_or_make(root / row.path, row.content_hash).read_bytes()
    except (ImageError, OSError):
        return None


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()


def _flatten(prefix: str, value, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = "–" if value is None else str(value)


def _settings(run: runs.RunInfo, ev: Evaluation) -> dict[str, str]:
    settings = {"run": str(run.id), "backbone": run.backbone, "device": run.device, "seed": str(run.seed)}
    _flatten("", run.config, settings)
    settings["evaluation"] = f"{ev.folds}-fold out-of-fold, stratified, seed {run.seed}, on cached embeddings"
    if run.network:
        settings["evaluation"] += " (pretrained backbone: the fine-tuned network is not re-trained per fold)"
    return settings


def _data_summary(run: runs.RunInfo, summary: catalog.Summary, ev: Evaluation) -> dict[str, str]:
    m = run.metrics
    data = {
        "images in the folder": str(summary.images),
        "labelled now": str(summary.labelled),
        "unlabelled now": str(summary.unlabelled),
        "unreadable": str(len(summary.unreadable)),
        "evaluated (labelled when the run started)": str(len(ev.image_ids)),
        "per class": ", ".join(f"{c.name} {c.support}" for c in ev.metrics.per_class),
    }
    if m.get("train_images") is not None:
        data["run's training / validation split"] = f"{m['train_images']} / {m.get('val_images', 0)} images"
    if m.get("val_acc") is not None:
        data["run's validation accuracy"] = (
            f"{100 * m['val_acc']:.1f}% (small split; the figures above cover every image)")
    if run.duration_s is not None:
        data["training time"] = f"{run.duration_s:.1f} s"
    if ev.relabelled:
        data["relabelled since this run"] = str(len(ev.relabelled))
    return data
