"""Paints a confusion cell as a heat map: agreement (the diagonal) in a blue-green scale, mistakes in an
orange-red one, each as strong as the cell's share of its row, over the palette's base colour, so the two
read apart at a glance in light and dark themes. A corner mark counts images relabelled since the run."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.review.confusion_model import CHANGED_ROLE, COUNT_ROLE, KIND_ROLE, SHARE_ROLE

RIGHT = QColor("#009e73")  # Okabe-Ito bluish green
WRONG = QColor("#d55e00")  # Okabe-Ito vermillion


def cell_colour(kind: str, share: float, base: QColor) -> QColor:
    """The cell's fill: base blended towards the kind's colour by its share (a faint tint for any mistake,
    so that a single wrong image is never invisible)."""
    if kind == "total":
        return base
    tint = RIGHT if kind == "right" else WRONG
    weight = 0.0 if share <= 0 else 0.18 + 0.82 * min(1.0, share if kind == "right" else share * 2.5)
    return QColor(round(base.red() + (tint.red() - base.red()) * weight),
                  round(base.green() + (tint.green() - base.green()) * weight),
                  round(base.blue() + (tint.blue() - base.blue()) * weight))


def readable_on(colour: QColor) -> QColor:
    luminance = 0.2126 * colour.redF() + 0.7152 * colour.greenF() + 0.0722 * colour.blueF()
    return QColor("#111111") if luminance > 0.5 else QColor("#ffffff")


class ConfusionDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        palette = option.palette
        kind = index.data(KIND_ROLE)
        fill = cell_colour(kind, index.data(SHARE_ROLE) or 0.0, palette.color(QPalette.ColorRole.Base))
        if kind == "total":
            fill = palette.color(QPalette.ColorRole.AlternateBase)
        rect = QRectF(option.rect).adjusted(1, 1, -1, -1)
        painter.fillRect(rect, fill)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 3))
            painter.drawRect(rect.adjusted(1.5, 1.5, -1.5, -1.5))
        font = QFont(option.font)
        font.setBold(kind == "right" or (kind == "wrong" and (index.data(COUNT_ROLE) or 0) > 0))
        painter.setFont(font)
        painter.setPen(readable_on(fill) if kind != "total" else palette.color(QPalette.ColorRole.Text))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, index.data() or "")
        changed = index.data(CHANGED_ROLE) or 0
        if changed:
            small = QFont(option.font)
            small.setPointSizeF(max(6.5, small.pointSizeF() * 0.75))
            painter.setFont(small)
            corner = rect.adjusted(3, 2, -3, -2)
            painter.drawText(corner, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, f"✎{changed}")
        painter.restore()
