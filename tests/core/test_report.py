"""The report page: well-formed, self-contained, and showing what a colleague needs (parser checks always;
a real headless Chromium renders it when one is installed)."""
import base64
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from core.evaluation.metrics import compute_metrics, confusion, roc_curves
from core.report.html import EpochPoint, Mistake, ReportData, render_report

VOID = {"meta", "img", "br", "hr", "input", "link", "col", "source", "wbr", "area", "base", "embed", "track"}


class Page(HTMLParser):
    """Checks nesting and collects what the tests look at."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.images, self.external = [], [], [], []
        self.tables: dict[str, list[list[str]]] = {}
        self._table, self._row, self._cell = None, None, None
        self.svg_count = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if attrs.get(name) and not attrs[name].startswith(("data:", "#")):
                self.external.append(attrs[name])
        if tag == "script":
            self.external.append("<script>")
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "svg":
            self.svg_count += 1
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id") or f"table{len(self.tables)}", [])
        if tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        if tag in ("td", "th") and self._row is not None:
            self._cell = ""
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass  # <line/> and friends in SVG

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
        else:
            self.stack.pop()
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def jpeg(colour):
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, "JPEG")
    return buf.getvalue()


def sample_report() -> str:
    names = ["cat", "dog & co", "<bird>"]
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    proba = np.array([
        [0.9, 0.05, 0.05], [0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.6, 0.3],
        [0.1, 0.3, 0.6], [0.1, 0.1, 0.8], [0.2, 0.1, 0.7], [0.1, 0.2, 0.7], [0.85, 0.05, 0.1],
    ])
    data = ReportData(
        project_name="pets", run_id=3, run_status="finished", started="2026-11-25 10:00",
        backbone="efficientnet_lite0",
        metrics=compute_metrics(y, proba, names), confusion=confusion(y, proba, list(range(10)), names), folds=5,
        class_colours=["#0072b2", "#e69f00", "#009e73"], roc=roc_curves(y, proba, names),
        mistakes=[Mistake("birds/b4.jpg", "<bird>", "cat", 0.85, True, jpeg((200, 0, 0))),
                  Mistake("cats/c3.jpg", "cat", "dog & co", 0.7, False, None)],
        suspects_total=1, settings={"head.lr": "0.001", "folds": "5"},
        data_summary={"images": "12", "labelled": "10", "unlabelled": "2"},
        epochs=[EpochPoint("head", e, 1.0 / e, 1.1 / e, 0.5 + e / 20, 0.45 + e / 20) for e in range(1, 8)],
        app_version="0.1.0", generated="2026-11-25 11:00",
    )
    return render_report(data)


@pytest.fixture
def report_html():
    return sample_report()


def test_report_is_well_formed_and_self_contained(report_html):
    page = Page()
    page.feed(report_html)
    page.close()
    assert page.errors == [] and page.stack == []
    assert page.external == []  # no scripts, no network: it opens anywhere
    assert report_html.startswith("<!DOCTYPE html>")
    assert page.svg_count == 3  # loss, accuracy, ROC


def test_confusion_matrix_has_class_names_on_both_axes_and_counts(report_html):
    page = Page()
    page.feed(report_html)
    matrix = page.tables["confusion-matrix"]
    assert matrix[0][1:] == ["cat", "dog & co", "<bird>"]  # escaped in HTML, read back as text
    assert [row[0] for row in matrix[1:]] == ["cat", "dog & co", "<bird>"]
    assert [row[1:] for row in matrix[1:]] == [["2", "1", "0"], ["0", "2", "1"], ["1", "0", "3"]]
    per_class = page.tables["per-class-table"]
    assert per_class[1][:5] == ["cat", "0.667", "0.667", "0.667", "3"]
    assert [row[0] for row in per_class[-2:]] == ["macro average", "weighted average"]


def test_mistakes_show_embedded_thumbnails_with_given_and_predicted(report_html):
    page = Page()
    page.feed(report_html)
    (src,) = page.images  # the unreadable one has no picture
    assert src.startswith("data:image/jpeg;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert image.size == (40, 30)
    text = re.sub(r"<[^>]+>", " ", report_html)
    assert "probably mislabelled" in text and "birds/b4.jpg" in text
    assert re.search(r"given\s+&lt;bird&gt;\s+predicted\s+cat\s+\(85\.0%\)", text)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_report_renders_in_a_real_browser(report_html, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(report_html, encoding="utf-8")
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="confusion-matrix"' in dom.stdout and "&lt;bird&gt;" in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1100,1400", path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3)
    # The confusion matrix's blue diagonal cells are painted (the page is not blank).
    blue = (pixels[:, 2] > 150) & (pixels[:, 0] < 100)
    assert blue.sum() > 500


def test_many_classes_plot_only_the_hardest_roc_curves():
    names = [f"class {i}" for i in range(12)]
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(12), 5)
    proba = rng.dirichlet(np.ones(12), size=60)
    proba[np.arange(60), y] += np.linspace(0, 3, 12)[y]  # later classes easier
    proba /= proba.sum(axis=1, keepdims=True)
    data = ReportData("many", 1, "finished", "today", "b", compute_metrics(y, proba, names),
                      confusion(y, proba, list(range(60)), names), 5, ["#000000"] * 12,
                      roc_curves(y, proba, names), [], 0, {}, {})
    html = render_report(data)
    assert "8 lowest-AUC classes" in html and html.count("<polyline") == 8
    assert "class 0 (AUC" in html and "class 11 (AUC" not in html
    page = Page()
    page.feed(html)
    assert page.errors == [] and len(page.tables["confusion-matrix"]) == 13
