"""The preview pane beside the grid: the selected image's name, label and prediction, kept up to date when
labels or classes change, without re-reading the store when only class counts moved."""
from __future__ import annotations

from PySide6.QtCore import Qt

from core.storage import gallery
from desktop.project import context as project_context


def test_the_preview_follows_labels_and_class_renames_but_not_mere_counts(qtbot, window, open_folder, folder,
                                                                         monkeypatch):
    open_folder(window, folder)
    window.context.add_class("cat")
    window.context.add_class("dog")
    window.show_view("images")
    window.grid.select_row(0)
    preview = window.preview
    shown = window.model.card(0).path
    qtbot.waitUntil(lambda: preview.name.text() == shown.rsplit("/", 1)[-1])
    assert preview.label.text() == "Unlabelled"

    window.grid.setFocus()
    window.label_actions.advance.setChecked(False)  # stay on this image
    qtbot.keyClick(window.grid, Qt.Key.Key_2)
    assert "dog" in preview.label.text()

    details_read = []
    plain_read = project_context.ProjectContext.read
    monkeypatch.setattr(project_context.ProjectContext, "read", lambda self, query, *args: (
        details_read.append(query) if query is gallery.image_details else None, plain_read(self, query, *args))[1])
    window.grid.select_row(1)
    details_read.clear()
    qtbot.keyClick(window.grid, Qt.Key.Key_1)  # the counts of both classes change; the image shown is row 1
    assert details_read == [gallery.image_details]  # its own label changed: read once, not again for counts
    assert "cat" in preview.label.text()

    assert window.context.rename_class("cat", "kitten")
    assert "kitten" in preview.label.text()
