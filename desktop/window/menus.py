"""The menu bar and the toolbar, with the platform's standard shortcuts. Panels added later show up in
View (see MainWindow.add_panel); their own commands go in menus they add with MainWindow.menu().
It is given the parts whose commands it offers; it never reaches into the window."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QMessageBox, QToolBar

from core.logs import configured_path, log_path
from desktop.actions.class_actions import ClassActions
from desktop.actions.label_actions import LabelActions
from desktop.gallery.filter_bar import FilterBar
from desktop.gallery.view import GalleryView
from desktop.preview.pane import PreviewPane
from desktop.project.context import ProjectContext
from desktop.project.opener import ProjectOpener
from desktop.project.settings import AppSettings
from desktop.widgets import theme
from desktop.window import help as app_help
from desktop.widgets.icons import icon


class Menus:
    def __init__(self, window: QMainWindow, *, context: ProjectContext, opener: ProjectOpener,
                 grid: GalleryView, filter_bar: FilterBar, preview: PreviewPane, label_actions: LabelActions,
                 class_actions: ClassActions, settings: AppSettings):
        self._window, self._opener, self._settings = window, opener, settings
        self._label_actions, self._class_actions = label_actions, class_actions
        w = window
        self.open = _action(w, "&Open Folder…", QKeySequence.StandardKey.Open, opener.choose, "folder-open",
                            "Open a folder of images as a project")
        self.rescan = _action(w, "&Rescan Folder", QKeySequence.StandardKey.Refresh, opener.rescan, "rescan",
                              "Look for new, changed and removed images")
        self.close_project = _action(w, "&Close Folder", QKeySequence.StandardKey.Close, context.close)
        self.quit = _action(w, "&Quit", QKeySequence.StandardKey.Quit, w.close)
        self.quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.select_all = _action(w, "Select &All", QKeySequence.StandardKey.SelectAll, grid.selectAll,
                                  "select-all")
        self.find = _action(w, "&Find…", QKeySequence.StandardKey.Find, _focus(filter_bar.search))
        self.zoom_in = _action(w, "&Larger Thumbnails", QKeySequence.StandardKey.ZoomIn,
                               lambda: filter_bar.zoom.setValue(filter_bar.zoom.value() + 32))
        self.zoom_out = _action(w, "&Smaller Thumbnails", QKeySequence.StandardKey.ZoomOut,
                                lambda: filter_bar.zoom.setValue(filter_bar.zoom.value() - 32))
        self.show_log = _action(w, "Show &Log", None, show_log, tip="Open the log file: what went wrong, with "
                                "the details to send with a bug report")
        self.quick_start = _action(w, "&Quick Start", QKeySequence.StandardKey.HelpContents,
                                   lambda: app_help.show_message(w, "Quick Start", app_help.QUICK_START),
                                   tip="Open a folder, label, train, review, classify: the steps in short")
        self.shortcuts = _action(w, "&Keyboard Shortcuts", None, self._show_shortcuts)
        self.preferences = _action(w, "&Preferences…", None, self._show_preferences,
                                   tip="Add or remove “Classify with Dovecote” in the file managers")
        # The platform's key where it has one (⌘, on macOS); Ctrl+, elsewhere, as GNOME and KDE apps use.
        self.preferences.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
                                      or [QKeySequence("Ctrl+,")])
        self.preferences.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.about = _action(w, "&About Dovecote", None, self._show_about)
        self.about.setMenuRole(QAction.MenuRole.AboutRole)

        bar = w.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open)
        self.recent = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self.rescan)
        file_menu.addSeparator()
        file_menu.addAction(self.close_project)
        file_menu.addAction(self.quit)

        edit = bar.addMenu("&Edit")
        labels = label_actions
        edit.addActions([labels.undo, labels.redo])
        edit.addSeparator()
        edit.addActions([self.select_all, self.find])
        edit.addSeparator()
        edit.addAction(self.preferences)

        self.label_menu = bar.addMenu("&Label")
        self.label_menu.aboutToShow.connect(self._fill_label_menu)
        self._fill_label_menu()

        self.view_menu = bar.addMenu("&View")
        self.view_menu.addActions([self.zoom_in, self.zoom_out])
        self.view_menu.addSeparator()
        self.view_menu.addActions([preview.fit_action, preview.actual_action, preview.heat_action])
        self.view_menu.addSeparator()
        self._add_theme_menu(self.view_menu.addMenu("&Theme"))
        self.view_menu.addSeparator()
        self.panels = self.view_menu  # panel toggles are appended here
        self.help_menu = bar.addMenu("&Help")
        self.help_menu.addActions([self.quick_start, self.shortcuts])
        self.help_menu.addSeparator()
        self.help_menu.addActions([self.show_log, self.about])

        toolbar = QToolBar("Main toolbar", w)
        toolbar.setObjectName("mainToolbar")
        toolbar.setIconSize(QSize(20, 20))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setMovable(False)
        toolbar.addActions([self.open, self.rescan])
        toolbar.addSeparator()
        toolbar.addActions([labels.undo, labels.redo])
        toolbar.addSeparator()
        toolbar.addAction(class_actions.add)
        w.addToolBar(toolbar)
        self.toolbar = toolbar
        for action in (self.find, self.zoom_in, self.zoom_out, self.select_all):
            w.addAction(action)  # shortcuts also when the menu bar is hidden (macOS full screen)

    def set_recent(self, folders: list[str]) -> None:
        self.recent.clear()
        for folder in folders:
            action = self.recent.addAction(folder)
            action.triggered.connect(lambda _checked=False, f=folder: self._opener.open(f))
        self.recent.setEnabled(bool(folders))

    def update_enabled(self, is_open: bool) -> None:
        for action in (self.rescan, self.close_project, self.select_all, self.find, self.zoom_in, self.zoom_out):
            action.setEnabled(is_open)

    def _fill_label_menu(self) -> None:
        menu, labels, classes = self.label_menu, self._label_actions, self._class_actions
        menu.clear()
        menu.addActions(labels.menu_actions())
        menu.addAction(labels.clear)
        menu.addSeparator()
        menu.addActions(classes.all())
        menu.addSeparator()
        menu.addAction(labels.advance)

    def _add_theme_menu(self, menu: QMenu) -> None:
        group = QActionGroup(menu)
        current = self._settings.theme()
        for key, text in (("system", "Follow the System"), ("light", "Light"), ("dark", "Dark")):
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(key == current)
            action.triggered.connect(lambda _checked=False, k=key: self._set_theme(k))
            group.addAction(action)

    def _set_theme(self, key: str) -> None:
        self._settings.set_theme(key)
        theme.apply_theme(QApplication.instance(), key)

    def shortcut_actions(self) -> list[QAction]:
        """Every action with a key, as the menus show them (the Label menu's as they are now)."""
        self._fill_label_menu()
        menus = [a.menu() for a in self._window.menuBar().actions() if a.menu() is not None]
        return [a for menu in menus for a in _all_actions(menu) if a not in self._label_actions.assign]

    def _show_shortcuts(self) -> None:
        app_help.show_message(self._window, "Keyboard Shortcuts", app_help.shortcuts_html(self.shortcut_actions()))

    def _show_preferences(self) -> None:
        from desktop.window.preferences import PreferencesDialog

        dialog = PreferencesDialog(self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _show_about(self) -> None:
        from core.models.bundles import app_version  # not at start-up: the window opens without it

        QMessageBox.about(self._window, "About Dovecote",
                          f"<b>Dovecote</b> {app_version()}<br>Sort your images into classes and train a "
                          "classifier on them, on your own computer.<br><br>"
                          f"Log: {configured_path() or log_path()}")


def show_log() -> None:
    """Open the log file in the system's viewer; its folder when nothing was logged yet."""
    path = configured_path() or log_path()
    if not path.exists():
        path = path.parent
        path.mkdir(parents=True, exist_ok=True)
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def _all_actions(menu: QMenu) -> list[QAction]:
    found = []
    for action in menu.actions():
        found.extend(_all_actions(action.menu()) if action.menu() is not None else [action])
    return found


def _action(parent, text: str, shortcut, slot, icon_name: str | None = None, tip: str = "") -> QAction:
    action = QAction(text, parent)
    if icon_name:
        action.setIcon(icon(icon_name))
    if shortcut is not None:
        action.setShortcut(shortcut)
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    return action


def _focus(line_edit):
    def focus() -> None:
        line_edit.setFocus()
        line_edit.selectAll()
    return focus
