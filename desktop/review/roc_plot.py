"""ROC curves, one per class against the rest (binary: one), from the out-of-fold predictions. The plot (and
pyqtgraph with it: ~0.5 s of imports) is made when the tab is first shown, not when the window starts."""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from core.evaluation.metrics import RocCurve


class RocPlot(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("rocPlot")
        self.setMinimumHeight(160)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.plot = self._legend = None  # made when first shown
        self._curves: list[RocCurve] = []
        self._colours: dict[str, str] = {}

    def set_curves(self, curves: list[RocCurve], colours: dict[str, str]) -> None:
        self._curves, self._colours = curves, colours
        if self.plot is not None:
            self._draw()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.plot is None:
            self._make_plot()
            self._draw()

    def _make_plot(self) -> None:
        import pyqtgraph as pg

        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "False positive rate")
        self.plot.setLabel("left", "True positive rate")
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.setYRange(0, 1, padding=0.02)
        self._legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self._layout.addWidget(self.plot)

    def _draw(self) -> None:
        import pyqtgraph as pg

        palette = self.palette()
        self.plot.setBackground(palette.color(QPalette.ColorRole.Base))
        self.plot.clear()
        self._legend.clear()
        diagonal = QColor(palette.color(QPalette.ColorRole.Text))
        diagonal.setAlpha(90)
        self.plot.plot([0, 1], [0, 1], pen=pg.mkPen(diagonal, width=1, style=pg.QtCore.Qt.PenStyle.DashLine))
        for curve in self._curves:
            pen = pg.mkPen(self._colours.get(curve.name, "#888888"), width=2)
            self.plot.plot(curve.fpr, curve.tpr, pen=pen, name=f"{curve.name} (AUC {curve.auc:.3f})")
