"""The run report as one self-contained HTML page (a model card): rendered from plain data, so it is tested
without a project, and nothing in it needs the network (charts are inline SVG, thumbnails base64 JPEG)."""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from string import Template

from core.evaluation.metrics import Confusion, Metrics, RocCurve
from core.report.svg_charts import Series, line_chart

TEMPLATE = Path(__file__).with_name("template.html")
MAX_ROC_CURVES = 8


@dataclass(frozen=True)
class Mistake:
    path: str  # relative to the project folder
    given: str
    predicted: str
    confidence: float  # the probability of the predicted class
    suspected: bool  # confident learning says the given label itself is probably wrong
    jpeg: bytes | None  # thumbnail; None when the image cannot be read now


@dataclass(frozen=True)
class EpochPoint:
    phase: str
    epoch: int
    train_loss: float | None
    val_loss: float | None
    train_acc: float | None
    val_acc: float | None


@dataclass(frozen=True)
class ReportData:
    project_name: str
    run_id: int
    run_status: str
    started: str
    backbone: str
    metrics: Metrics  # out of fold
    confusion: Confusion  # out of fold
    folds: int
    class_colours: list[str]
    roc: list[RocCurve]
    mistakes: list[Mistake]
    suspects_total: int
    settings: dict[str, str]
    data_summary: dict[str, str]
    epochs: list[EpochPoint] = field(default_factory=list)
    app_version: str = "unknown"
    generated: str = ""


def render_report(data: ReportData) -> str:
    title = f"{data.project_name}: model report, run {data.run_id}"
    body = "\n".join([
        f"<h1>{escape(title)}</h1>",
        f'<p class="subtitle">Backbone {escape(data.backbone)} · run {escape(data.run_status)} · '
        f"started {escape(data.started)}</p>",
        _headline(data),
        _per_class(data.metrics),
        _confusion(data.confusion),
        _curves(data),
        _mistakes(data),
        _table_section("Data", "data-summary", data.data_summary),
        _table_section("Settings", "settings", data.settings),
    ])
    page = Template(TEMPLATE.read_text(encoding="utf-8"))
    return page.substitute(title=escape(title), body=body, app_version=escape(data.app_version),
                           generated=escape(data.generated))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _headline(data: ReportData) -> str:
    m = data.metrics
    tiles = [("Accuracy", _pct(m.accuracy)), ("Balanced accuracy", _pct(m.balanced_accuracy)),
             ("Macro F1", _num(m.macro.f1)), ("ROC AUC", _num(m.roc_auc)), ("Log loss", _num(m.log_loss)),
             ("Images evaluated", str(m.n_images))]
    cells = "".join(f"<div>{escape(name)}<b>{escape(value)}</b></div>" for name, value in tiles)
    return (
        '<section id="summary"><h2>How good is the model?</h2>'
        f'<div class="headline">{cells}</div>'
        f'<p class="note">Measured on every labelled image ({m.n_images}) with {data.folds}-fold out-of-fold '
        "predictions: each image was predicted by a model that never trained on it, so these figures are "
        "what to expect on new images like these, not a score on the training data.</p></section>"
    )


def _per_class(m: Metrics) -> str:
    rows = [
        f"<tr><td>{escape(c.name)}</td><td>{_num(c.precision)}</td><td>{_num(c.recall)}</td>"
        f"<td>{_num(c.f1)}</td><td>{c.support}</td><td>{_num(c.roc_auc)}</td></tr>"
        for c in m.per_class
    ]
    for name, avg in (("macro average", m.macro), ("weighted average", m.weighted)):
        rows.append(f'<tr class="average"><td>{name}</td><td>{_num(avg.precision)}</td><td>{_num(avg.recall)}</td>'
                    f"<td>{_num(avg.f1)}</td><td>{m.n_images}</td><td></td></tr>")
    return (
        '<section id="per-class"><h2>Per class</h2><table id="per-class-table"><thead><tr><th>class</th>'
        "<th>precision</th><th>recall</th><th>F1</th><th>images</th><th>ROC AUC</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _cell_colour(share: float, diagonal: bool) -> str:
    # Diagonal cells in blue (right), others in orange (confused); the deeper the colour, the larger the share.
    r, g, b = (0, 114, 178) if diagonal else (213, 94, 0)
    alpha = 0.08 + 0.8 * share if share > 0 else 0.0
    return f"background: rgba({r}, {g}, {b}, {alpha:.2f}); color: {'#fff' if alpha > 0.55 else '#1d1d1f'}"


def _confusion(c: Confusion) -> str:
    names = [escape(n) for n in c.class_names]
    header = "".join(f'<th class="col" scope="col">{n}</th>' for n in names)
    rows = []
    for i, name in enumerate(names):
        cells = "".join(
            f'<td style="{_cell_colour(c.normalised[i][j], i == j)}" data-given="{i}" data-predicted="{j}" '
            f'title="given {name}, predicted {names[j]}: {c.counts[i][j]} ({_pct(c.normalised[i][j])} of {name})">'
            f"{c.counts[i][j]}</td>"
            for j in range(len(names))
        )
        rows.append(f'<tr><th class="given" scope="row">{name}</th>{cells}</tr>')
    return (
        '<section id="confusion"><h2>Which classes it confuses</h2>'
        '<p class="note">Rows: the label given; columns: the class predicted out of fold. Counts; the shade '
        "shows the share of the row.</p>"
        f'<table id="confusion-matrix"><thead><tr><th class="axis">given ↓ / predicted →</th>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _curves(data: ReportData) -> str:
    charts = []
    for phase in dict.fromkeys(p.phase for p in data.epochs):
        points = [p for p in data.epochs if p.phase == phase]
        xs = [p.epoch for p in points]
        for what, train, val, where in (
            ("loss", [p.train_loss for p in points], [p.val_loss for p in points], "top"),
            ("accuracy", [p.train_acc for p in points], [p.val_acc for p in points], "bottom"),
        ):
            series = [Series("training", xs, train, "#0072b2"), Series("validation", xs, val, "#d55e00", dashed=True)]
            charts.append(line_chart(series, f"{phase}: {what}", "epoch", what, legend_at=where,
                                     y_range=(0.0, 1.0) if what == "accuracy" else None))
    colours = dict(zip(data.confusion.class_names, data.class_colours))
    if data.roc:
        # Many classes would bury the chart: the hardest ones (lowest AUC) say the most.
        curves = sorted(data.roc, key=lambda r: r.auc)[:MAX_ROC_CURVES] if len(data.roc) > MAX_ROC_CURVES else data.roc
        title = "ROC, out of fold" + (f" ({len(curves)} lowest-AUC classes)" if len(curves) < len(data.roc) else "")
        series = [Series(f"{r.name} (AUC {r.auc:.3f})", r.fpr, r.tpr, colours.get(r.name, "#0072b2")) for r in curves]
        charts.append(line_chart(series, title, "false positive rate", "true positive rate",
                                 x_range=(0.0, 1.0), y_range=(0.0, 1.0), diagonal=True, legend_at="bottom"))
    if not charts:
        return ""
    return ('<section id="curves"><h2>Training curves and ROC</h2>'
            f'<div class="charts">{"".join(charts)}</div></section>')


def _mistakes(data: ReportData) -> str:
    if not data.mistakes:
        return '<section id="mistakes"><h2>Top mistakes</h2><p>No image was misclassified out of fold.</p></section>'
    figures = []
    for m in data.mistakes:
        if m.jpeg:
            encoded = base64.b64encode(m.jpeg).decode("ascii")
            picture = f'<img src="data:image/jpeg;base64,{encoded}" alt="{escape(m.path)}">'
        else:
            picture = '<div class="missing">not readable</div>'
        flag = '<div class="suspect">probably mislabelled</div>' if m.suspected else ""
        figures.append(
            f"<figure>{picture}<figcaption>{flag}<div>given <b>{escape(m.given)}</b></div>"
            f"<div>predicted <b>{escape(m.predicted)}</b> ({_pct(m.confidence)})</div>"
            f'<div class="path">{escape(m.path)}</div></figcaption></figure>'
        )
    return (
        '<section id="mistakes"><h2>Top mistakes</h2>'
        f'<p class="note">The out-of-fold predictions that disagree most with the given label. '
        f"{data.suspects_total} image(s) are probably mislabelled (confident learning); fixing those labels "
        f'helps more than any setting.</p><div class="mistakes">{"".join(figures)}</div></section>'
    )


def _table_section(title: str, anchor: str, rows: dict[str, str]) -> str:
    body = "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in rows.items())
    return f'<section id="{anchor}"><h2>{title}</h2><table class="settings">{body}</table></section>'
