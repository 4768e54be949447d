"""ROC curves, one per class against the rest (binary: one), from the out-of-fold predictions."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from core.evaluation.metrics import RocCurve


class RocPlot(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("rocPlot")
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setLabel("bottom", "False positive rate")
        self.setLabel("left", "True positive rate")
        self.setXRange(0, 1, padding=0.02)
        self.setYRange(0, 1, padding=0.02)
        self.setMinimumHeight(160)
        self._legend = self.addLegend(offset=(-8, 8), labelTextSize="8pt")

    def set_curves(self, curves: list[RocCurve], colours: dict[str, str]) -> None:
        palette = self.palette()
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        self.clear()
        self._legend.clear()
        diagonal = QColor(palette.color(QPalette.ColorRole.Text))
        diagonal.setAlpha(90)
        self.plot([0, 1], [0, 1], pen=pg.mkPen(diagonal, width=1, style=pg.QtCore.Qt.PenStyle.DashLine))
        for curve in curves:
            pen = pg.mkPen(colours.get(curve.name, "#888888"), width=2)
            self.plot(curve.fpr, curve.tpr, pen=pen, name=f"{curve.name} (AUC {curve.auc:.3f})")
