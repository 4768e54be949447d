"""Other parts of the app add their views, panels and menus to the main window."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


def test_views_panels_and_menus_can_be_added(qtbot, window, open_folder, folder):
    open_folder(window, folder)
    views = window.views
    assert [views.tabText(i) for i in range(views.count())] == ["Images", "Train", "Review"]
    assert not views.tabBar().isHidden()
    index = window.add_view("Training", QLabel("training"))
    assert views.tabText(index) == "Training" and views.count() == 4
    assert window.show_view("review") and views.tabText(views.currentIndex()) == "Review"
    dock = window.add_panel("Run details", QLabel("details"), Qt.DockWidgetArea.BottomDockWidgetArea)
    assert dock.toggleViewAction() in window.menus.panels.actions()
    menu = window.menu("&Model")
    assert window.menu("Model") is menu
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles.index("&Model") == titles.index("&Help") - 1
