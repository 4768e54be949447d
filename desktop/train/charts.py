"""Loss and accuracy per epoch, training (dashed) and validation (solid), for every phase of a run: the
head's epochs first, fine-tuning's after them (a line marks where it starts), the epoch whose model was kept
marked with a star. A second run can be overlaid (another colour) to compare two runs. Drawn with pyqtgraph,
which redraws a few hundred points in well under a millisecond; it is imported when the charts are first
shown (it takes a good part of a second), not when the window starts."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QWidget

FINE_TUNE = "fine-tune"
COLOURS = ("#2e86de", "#e67e22")  # the run shown, the run compared with it
SERIES = ("train_loss", "val_loss", "train_acc", "val_acc")
REDRAW_MS = 50  # the head's epochs arrive milliseconds apart: one redraw per burst
# Axis ends are rounded up to one of these times a power of ten, and the loss axis starts at 0: an axis whose
# range changes re-lays out its ticks and grid (~10 ms each of four), so they change only now and then, not at
# every epoch as autoranging would (with the axis cache below, a redraw 61 ms -> 6.5 ms on this machine's CPU).
AXIS_STEPS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0)


@dataclass
class _Curve:
    """One run's epochs as the chart holds them."""

    name: str
    xs: list[float] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in SERIES})
    head_epochs: int = 0
    best: tuple[str, int] | None = None  # (phase, epoch) of the model kept; None: lowest validation loss
    phases: list[str] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)

    def add(self, epoch) -> None:
        if epoch.phase == FINE_TUNE:
            x = self.head_epochs + epoch.epoch
        else:
            self.head_epochs = max(self.head_epochs, epoch.epoch)
            x = epoch.epoch
        self.xs.append(x)
        self.phases.append(epoch.phase)
        self.epochs.append(epoch.epoch)
        for series in SERIES:
            value = getattr(epoch, series)
            if value is not None and series.endswith("acc"):
                value *= 100
            self.values[series].append(float("nan") if value is None else float(value))

    def best_index(self) -> int | None:
        if self.best is not None:
            for i, key in enumerate(zip(self.phases, self.epochs)):
                if key == self.best:
                    return i
        losses = [(v, i) for i, v in enumerate(self.values["val_loss"]) if v == v]  # skips NaN
        return min(losses)[1] if losses else None


class RunCharts(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.loss = self.accuracy = None  # pyqtgraph PlotWidgets, made when first shown
        self._curves: list[_Curve] = []
        self._items: list[dict] = []  # per run shown: its pyqtgraph items, by (series, part)
        self._drawn_for: tuple | None = None  # the layout _items were built for
        self._ranges: tuple[float, float] | None = None  # (last epoch, largest loss) the axes show
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.loss is None:
            self._make_plots()
            self._redraw()

    def _make_plots(self) -> None:
        import pyqtgraph as pg

        pg.setConfigOptions(antialias=True)
        background = self.palette().color(QPalette.ColorRole.Base)
        foreground = self.palette().color(QPalette.ColorRole.Text)
        self.loss = pg.PlotWidget(background=background)
        self.accuracy = pg.PlotWidget(background=background)
        for plot, title, unit in ((self.loss, "Loss", ""), (self.accuracy, "Accuracy", "%")):
            item = plot.getPlotItem()
            item.setTitle(title, color=foreground)
            item.setLabel("bottom", "epoch")
            item.showGrid(x=True, y=True, alpha=0.15)
            item.addLegend(offset=(-10, 10) if plot is self.loss else (-10, -10))
            item.setMenuEnabled(False)
            item.enableAutoRange(x=False, y=False)  # set by _fit_axes
            for axis in ("left", "bottom"):
                item.getAxis(axis).setTextPen(foreground)
                item.getAxis(axis).setPen(foreground)
                # Repainted from a pixmap while its range stays: replaying its ticks and grid costs ~3 ms a time.
                item.getAxis(axis).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.accuracy.getPlotItem().setYRange(0, 100, padding=0.02)
        self._layout.addWidget(self.loss)
        self._layout.addWidget(self.accuracy)

    # -- what is shown --------------------------------------------------------------------------------------------
    def clear(self) -> None:
        self._curves = []
        self._redraw()

    def show_runs(self, runs: list[tuple[str, list, tuple[str, int] | None]]) -> None:
        """Each (name, epochs, best) drawn: one run, or two overlaid. epochs: rows with phase, epoch, losses
        and accuracies (stored EpochRows or live EpochEnded events); best: (phase, epoch) of the kept model."""
        self._curves = []
        for name, epochs, best in runs[: len(COLOURS)]:
            curve = _Curve(name, best=best)
            for epoch in epochs:
                curve.add(epoch)
            self._curves.append(curve)
        self._redraw()

    def start_live(self, name: str) -> None:
        self._curves = [_Curve(name)]
        self._redraw()

    def add_epoch(self, epoch) -> None:
        """A live run's new epoch (the first run shown)."""
        if not self._curves:
            self._curves = [_Curve("")]
        self._curves[0].add(epoch)
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def points(self, series: str, run: int = 0) -> list[float]:
        """The values drawn for `series` (SERIES) of the `run`-th run shown."""
        return list(self._curves[run].values[series]) if run < len(self._curves) else []

    def best_epoch(self, run: int = 0) -> tuple[str, int] | None:
        curve = self._curves[run] if run < len(self._curves) else None
        index = curve.best_index() if curve else None
        return None if index is None else (curve.phases[index], curve.epochs[index])

    # -- drawing ----------------------------------------------------------------------------------------------------
    def _redraw(self) -> None:
        """Updates the drawn items in place: rebuilding them (and the legends) cost 100-300 ms a time, which froze
        the window at each new epoch and at a run's end (bench_gui_train.py --where)."""
        if self.loss is None:
            return  # drawn when first shown
        comparing = len(self._curves) > 1
        layout = (comparing, tuple(curve.name for curve in self._curves) if comparing else ())
        if layout != self._drawn_for:
            self._build(comparing)
            self._drawn_for = layout
        for plot in (self.loss, self.accuracy):
            plot.getPlotItem().legend.setVisible(bool(self._curves))  # nothing shown: empty items, no legend
        for slot, (curve, items) in enumerate(zip(self._drawn_curves(), self._items)):
            best = curve.best_index()
            for series in ("loss", "acc"):
                val = curve.values[f"val_{series}"]
                items[series, "train"].setData(curve.xs, curve.values[f"train_{series}"])
                items[series, "val"].setData(curve.xs, val)
                marked = best is not None and val[best] == val[best]  # not NaN
                items[series, "best"].setData([curve.xs[best]] if marked else [], [val[best]] if marked else [])
                line = items[series, "fine-tune"]
                line.setVisible(slot == 0 and bool(curve.head_epochs and FINE_TUNE in curve.phases))
                line.setValue(curve.head_epochs + 0.5)
        self._fit_axes()

    def _fit_axes(self) -> None:
        """Epochs from 0 and losses from 0 to a rounded end past the largest value drawn (accuracy: 0-100 %)."""
        curves = self._drawn_curves()
        last_epoch = max((max(c.xs) for c in curves if c.xs), default=0.0)
        losses = [v for c in curves for s in ("train_loss", "val_loss") for v in c.values[s] if math.isfinite(v)]
        ranges = (_rounded_up(max(last_epoch, 5.0)), _rounded_up(max(losses, default=1.0)))
        if ranges == self._ranges:
            return
        self._ranges = ranges
        for plot in (self.loss, self.accuracy):
            plot.getPlotItem().setXRange(0, ranges[0], padding=0.02)
        self.loss.getPlotItem().setYRange(0, ranges[1], padding=0.02)

    def view_ranges(self) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        """What each plot (loss, accuracy) shows: ((x from, x to), (y from, y to))."""
        return [tuple(tuple(axis) for axis in plot.getPlotItem().viewRange()) for plot in (self.loss, self.accuracy)]

    def _drawn_curves(self) -> list[_Curve]:
        """The runs shown; with none, one empty run, so that nothing shown and one run shown share items."""
        return self._curves or [_Curve("")]

    def _build(self, comparing: bool) -> None:
        """The items of each run shown, empty; `_redraw` fills them."""
        import pyqtgraph as pg

        for plot in (self.loss, self.accuracy):
            plot.getPlotItem().clear()  # also empties the legend
        self._items = []
        for slot, curve in enumerate(self._drawn_curves()):
            colour, items = COLOURS[slot], {}
            for plot, series in ((self.loss, "loss"), (self.accuracy, "acc")):
                # Comparing: one legend entry per run (dashed is training, as in a single run's legend).
                items[series, "train"] = plot.plot([], [], name=None if comparing else "training", symbol=None,
                                                   pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine))
                label = f"{curve.name} (validation)" if comparing else "validation"
                items[series, "val"] = plot.plot([], [], name=label, symbol="o", symbolSize=4, symbolBrush=colour,
                                                 symbolPen=None, pen=pg.mkPen(colour, width=2), connect="finite")
                items[series, "best"] = pg.ScatterPlotItem([], [], symbol="star", size=16, brush=colour,
                                                           pen=pg.mkPen("w", width=0.5))
                plot.addItem(items[series, "best"])
                items[series, "fine-tune"] = pg.InfiniteLine(0.5, angle=90, movable=False,
                                                             pen=pg.mkPen("#888", style=Qt.PenStyle.DotLine),
                                                             label="fine-tuning",
                                                             labelOpts={"position": 0.9, "color": "#888"})
                items[series, "fine-tune"].setVisible(False)
                plot.addItem(items[series, "fine-tune"])
            self._items.append(items)


def _rounded_up(value: float) -> float:
    """The smallest of AXIS_STEPS times a power of ten at or above `value` (> 0)."""
    scale = 10.0 ** math.floor(math.log10(value))
    return next(step * scale for step in AXIS_STEPS if step * scale >= value * (1 - 1e-9))
