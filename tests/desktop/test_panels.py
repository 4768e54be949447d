"""Other parts of the app add their views, panels and menus to the main window."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


def test_views_panels_and_menus_can_be_added(qtbot, window, open_folder, folder):
    open_folder(window, folder)
    titles = [window.views.tabText(i) for i in range(window.views.count())]
    assert titles[:2] == ["Images", "Review"] and not window.views.tabBar().isHidden()
    index = window.add_view("Training", QLabel("training"))
    assert window.views.tabText(index) == "Training" and window.views.count() == len(titles) + 1
    dock = window.add_panel("Run details", QLabel("details"), Qt.DockWidgetArea.BottomDockWidgetArea)
    assert dock.toggleViewAction() in window.menus.panels.actions()
    menu = window.menu("&Model")
    assert window.menu("Model") is menu
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles.index("&Model") == titles.index("&Help") - 1
