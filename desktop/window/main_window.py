"""The main window. It only assembles the parts and connects them; each part lives in its own module.

Extending it (training, evaluation, ...): `window.context` is the open project and its change signals;
`add_view(title, widget)` adds a page beside the image grid, `add_panel(title, widget, area)` a dockable
panel (with a toggle in View), `menu(title)` a menu. Every task of `context.tasks` shows its progress in the
status bar with a Cancel button; closing the window cancels them all and waits at most a few seconds."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QDockWidget, QLabel, QMainWindow, QMenu, QStackedWidget, QTabWidget, QVBoxLayout,
                               QWidget)

from core.storage.gallery import SHOW_UNLABELLED, GalleryQuery
from desktop.actions.class_actions import ClassActions
from desktop.classes.sidebar import ClassSidebar
from desktop.window.empty_state import EmptyState
from desktop.gallery.filter_bar import FilterBar
from desktop.window.folder_drop import FolderDrop
from desktop.gallery.model import GalleryModel
from desktop.gallery.view import GalleryView
from desktop.widgets.icons import app_icon
from desktop.project.import_controller import ImportController
from desktop.actions.image_menu import ImageMenu
from desktop.actions.label_actions import LabelActions
from desktop.actions.prediction_actions import PredictionActions
from desktop.window.menus import Menus
from desktop.preview.pane import PreviewPane
from desktop.project.context import ProjectContext
from desktop.project.opener import ProjectOpener
from desktop.project.settings import AppSettings
from desktop.project.run_watcher import RunWatcher
from desktop.project.training import TrainingService
from desktop.review.view import TITLE as REVIEW_TITLE, ReviewView
from desktop.train.view import TrainView
from desktop.window.status_bar import MESSAGE_MS, StatusBar
from desktop.widgets.error_dialog import show_failure
from desktop.widgets.thumbnail_loader import ThumbnailLoader

APP_NAME = "Dovecote"


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.settings = settings or AppSettings()
        self.context = ProjectContext(self)
        self.thumbnails = ThumbnailLoader(parent=self)
        self.model = GalleryModel(self.context, self)
        self.grid = GalleryView(self.model, self.thumbnails)
        self.filter_bar = FilterBar(self.context)
        self.sidebar = ClassSidebar(self.context)
        self.preview = PreviewPane(self.context, self.thumbnails)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.importer = ImportController(self.context, self)
        self.training = TrainingService(self.context, self)  # one run at a time, for every view
        self.run_watcher = RunWatcher(self.context, self)  # runs made by `dovecote train` in a terminal
        self.opener = ProjectOpener(self.context, self.importer, self.settings, self)
        self.label_actions = LabelActions(self.context, self.grid, self.settings, self)
        self.prediction_actions = PredictionActions(self.context, self.grid, self)
        self.class_actions = ClassActions(self.context, self.sidebar, self)
        self.image_menu = ImageMenu(self.context, self.grid, self.label_actions, self)
        self.empty_state = EmptyState()
        self.menus = Menus(self, context=self.context, opener=self.opener, grid=self.grid,
                           filter_bar=self.filter_bar, preview=self.preview, label_actions=self.label_actions,
                           class_actions=self.class_actions, settings=self.settings)

        images_page = QWidget()
        column = QVBoxLayout(images_page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.filter_bar)
        column.addWidget(self.grid, 1)
        self.views = QTabWidget()
        self.views.setDocumentMode(True)
        self.views.setTabBarAutoHide(True)  # the tab bar appears once a second view is added
        self.views.addTab(images_page, "Images")
        self.train_view = TrainView(self.context, self.training, self.settings)
        self.add_view("Train", self.train_view)
        self._dock_visibility: dict[QDockWidget, bool] = {}
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty_state)
        self.pages.addWidget(self.views)
        self.pages.setCurrentWidget(self.views)  # _restore() switches to the empty state, hiding the panels
        self.setCentralWidget(self.pages)
        self.review = ReviewView(self.context, self.thumbnails, self.training, self.settings)
        self.add_view(REVIEW_TITLE, self.review)
        self.model_state = QLabel()  # what the automatic retraining is doing
        self.model_state.setObjectName("modelState")
        self.model_state.setContentsMargins(16, 0, 4, 0)  # apart from the counts beside it ("1 selected")
        self.status.addPermanentWidget(self.model_state)
        self._docks = [self.add_panel("Classes", self.sidebar, Qt.DockWidgetArea.LeftDockWidgetArea),
                       self.add_panel("Preview", self.preview, Qt.DockWidgetArea.RightDockWidgetArea)]
        self.drop = FolderDrop(self)
        self._connect()
        self._restore()

    # -- extension points -------------------------------------------------------------------------------
    def add_view(self, title: str, widget: QWidget) -> int:
        return self.views.addTab(widget, title)

    def show_view(self, name: str) -> bool:
        """Bring the view titled `name` (any case: "train", "Review") to the front; False if there is none."""
        for index in range(self.views.count()):
            if self.views.tabText(index).replace("&", "").lower() == name.lower():
                self.views.setCurrentIndex(index)
                return True
        return False

    def show_images(self, title: str, ids: list[int]) -> None:
        """Show just these images in the grid (from another view), under `title` in the Show box."""
        self.filter_bar.show_chosen(title, ids)
        self.show_view("Images")

    def add_panel(self, title: str, widget: QWidget, area=Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"panel-{title.lower().replace(' ', '-')}")  # saveState() needs names
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        self.menus.panels.addAction(dock.toggleViewAction())
        return dock

    def menu(self, title: str) -> QMenu:
        """A menu of the menu bar (added before Help if it does not exist yet)."""
        for action in self.menuBar().actions():
            if action.menu() is not None and action.text().replace("&", "") == title.replace("&", ""):
                return action.menu()
        menu = QMenu(title, self)
        self.menuBar().insertMenu(self.menus.help_menu.menuAction(), menu)
        return menu

    # -- wiring -------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        context, grid = self.context, self.grid
        self.filter_bar.query_changed.connect(self.model.set_query)
        self.filter_bar.query_changed.connect(lambda query: self.settings.set_sort_order(query.sort, query.descending))
        self.filter_bar.search_left.connect(self.grid.setFocus)
        self.class_actions.add.triggered.connect(self.grid.setFocus)  # after the dialog: number keys label
        self.filter_bar.zoom_changed.connect(self._zoom)
        grid.selection_changed.connect(self._selection_changed)
        self.sidebar.images_dropped.connect(lambda class_id, ids: self.label_actions.label_images(ids, class_id))
        self.sidebar.class_activated.connect(lambda class_id: self.filter_bar.show_only("class", class_id))
        self.empty_state.open_requested.connect(self.opener.choose)
        self.empty_state.recent_requested.connect(self.opener.open)
        self.opener.recent_changed.connect(self._show_recent)
        self.drop.folder_dropped.connect(self.opener.open)
        self.views.currentChanged.connect(self._view_changed)
        self.review.current_image_changed.connect(
            lambda image_id, count: self.views.currentWidget() is self.review and self.preview.show_image(image_id, count))
        self.review.retrainer.state_changed.connect(self.model_state.setText)
        self.review.retrainer.failed.connect(lambda message: self.status.showMessage(message, MESSAGE_MS))
        self.importer.finished.connect(lambda _summary: self.review.retrainer.catch_up())  # new images: predict them
        self.train_view.show_images.connect(self.show_images)
        context.opened.connect(self._opened)
        context.closed.connect(self._closed)
        context.failed.connect(lambda error: show_failure(self, "Not saved", error))
        context.tasks.started.connect(self.status.track)
        context.message.connect(lambda text: self.status.showMessage(text, MESSAGE_MS))
        self._counts_timer = QTimer(self)  # one count per burst of change signals
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(0)
        self._counts_timer.timeout.connect(self._update_counts)
        for signal in (context.images_changed, context.labels_changed, context.classes_changed):
            signal.connect(self._counts_timer.start)
        self.importer.started.connect(lambda _task: self._update_placeholder())
        self.importer.finished.connect(self._import_finished)
        self.importer.failed.connect(lambda error: show_failure(self, "Import stopped", error))
        self.model.modelReset.connect(self._update_placeholder)
        self.model.rowsRemoved.connect(lambda *_args: self._update_placeholder())  # the last unlabelled image got its label
        self.model.rowsInserted.connect(self._select_first_if_none)
        self.model.modelReset.connect(self._select_first_if_none)

    def _restore(self) -> None:
        self.resize(1280, 800)
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is None or not self.restoreState(state):
            self.resizeDocks(self._docks, [230, 340], Qt.Orientation.Horizontal)
        self.filter_bar.zoom.setValue(self.settings.thumbnail_size(self.grid.thumb_side))
        sort, descending = self.settings.sort_order()
        if sort is not None:
            self.filter_bar.set_sort(sort, descending)
        self._show_recent(self.settings.recent_projects())
        self._closed()

    # -- reactions ------------------------------------------------------------------------------------------
    def _opened(self, project) -> None:
        self.setWindowTitle(f"{project.root.name} — {APP_NAME}")
        self.setWindowFilePath(str(project.root))
        self.thumbnails.set_project(project.root, project.thumbnails_dir)
        self._show_workspace(True)
        self.menus.update_enabled(True)
        self._update_counts()
        self.grid.setFocus()

    def _closed(self) -> None:
        if self.context.project is not None:
            return
        self.importer.cancel()
        self.setWindowTitle(APP_NAME)
        self.setWindowFilePath("")
        self.thumbnails.set_project(None, None)
        self._show_workspace(False)
        self.menus.update_enabled(False)
        self.status.show_counts(None)

    def _show_workspace(self, show: bool) -> None:
        """The empty state fills the window: panels are hidden until a folder is open, then come back as
        the user left them."""
        if show == (self.pages.currentWidget() is self.views):
            return
        if show:
            for dock, visible in self._dock_visibility.items():
                dock.setVisible(visible)
        else:
            self._dock_visibility = {dock: not dock.isHidden() for dock in self.findChildren(QDockWidget)}
            for dock in self._dock_visibility:
                dock.hide()
        self.pages.setCurrentWidget(self.views if show else self.empty_state)

    def _show_recent(self, folders: list[str]) -> None:
        self.menus.set_recent(folders)
        self.empty_state.set_recent(folders)

    def _update_counts(self, *_args) -> None:
        if self.context.project is not None:
            self.status.show_counts(self.context.counts())

    def _view_changed(self, _index: int) -> None:
        """The label keys act on the view in front; the preview follows its selection."""
        reviewing = self.views.currentWidget() is self.review
        self.label_actions.set_target(self.review if reviewing else None)
        if reviewing:
            ids = self.review.selected_ids()
            self.preview.show_image(ids[0] if ids else None, len(ids))
        else:
            self._selection_changed()

    def _selection_changed(self) -> None:
        count = self.grid.selected_count()
        self.status.show_selected(count)
        self.preview.show_image(self.grid.current_id() if count else None, count)

    def _select_first_if_none(self, *_args) -> None:
        if self.model.rowCount() and not self.grid.selectionModel().hasSelection():
            self.grid.select_row(0)

    def _update_placeholder(self) -> None:
        if self.importer.running:
            text = "Looking for images…"
        elif self._all_labelled():
            text = ("Every image has a label. Next: train a model on them (the Train tab), then see in Review "
                    "where it is wrong. Choose “All images” to look them over.")
        elif self.model.query != GalleryQuery(sort=self.model.query.sort, descending=self.model.query.descending):
            text = "No images match. Choose “All images” or clear the search."
        else:
            text = "This folder has no images yet. Add some, then choose File → Rescan Folder."
        self.grid.set_placeholder(text)

    def _all_labelled(self) -> bool:
        """The Unlabelled filter is empty because the work is done, not because of a search."""
        query = self.model.query
        if self.model.rowCount() or self.context.project is None or query.show != SHOW_UNLABELLED or query.search:
            return False
        counts = self.context.counts()
        return counts.unlabelled == 0 and counts.labelled > 0

    def _import_finished(self, summary) -> None:
        self._update_placeholder()
        if summary is None:
            self.status.showMessage("Import stopped; the images found so far are kept.", MESSAGE_MS)
            return
        text = f"{summary.found:,} images: {summary.added:,} new, {summary.updated:,} changed"
        if summary.missing:
            text += f", {summary.missing:,} gone"
        if summary.unreadable:
            text += f", {summary.unreadable:,} unreadable (Show → Unreadable lists them)"
        if summary.skipped:
            text += f"; {summary.skipped_text()}"
        self.status.showMessage(text + ".", MESSAGE_MS * 2)

    def _zoom(self, side: int) -> None:
        self.grid.set_thumb_side(side)
        self.settings.set_thumbnail_size(self.grid.thumb_side)

    def closeEvent(self, event) -> None:
        self._show_workspace(True)  # remember the panels as they are with a folder open
        self.settings.set_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.context.tasks.shutdown()  # cancels every task (a training run is stored as cancelled): <= 5 s
        self.preview.shutdown()
        self.thumbnails.shutdown()
        self.context.close()
        super().closeEvent(event)
