"""Help → Quick Start and Keyboard Shortcuts: what a newcomer needs to get from a folder to a classifier.
The shortcut list is read from the window's actions, so it never lists a key that does something else."""
from __future__ import annotations

from html import escape

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox, QWidget

QUICK_START = """<h3>Quick start</h3><ol>
<li><b>Open</b> a folder of images (File → Open Folder, or drop it on the window). If its subfolders are
already sorted by class, say so and they become the classes.</li>
<li><b>Label</b>: add a class (New Class…, Ctrl+Shift+N), select images (click, Shift/Ctrl+click, or drag a frame)
and press the class's number key, or drag them onto the class. A dozen images per class is a start.</li>
<li><b>Train</b> a model on the labelled images (the Train tab, or <code>dovecote train FOLDER</code>).</li>
<li><b>Review</b> where it is wrong (the Review tab): the confusion matrix, the images it disagrees with.
Fix the labels that were wrong; the model retrains as you go.</li>
<li><b>Classify</b> new folders with the model (from the app, <code>dovecote classify</code>, or a file manager's
right-click menu).</li></ol>
<p>Every label change is saved at once and can be undone (Edit → Undo), also after a restart.</p>"""


def shortcut_rows(actions: list[QAction]) -> list[tuple[str, str]]:
    """(keys, what they do) for every action with a shortcut, in the order given, each listed once."""
    rows, seen = [], set()
    for action in actions:
        keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
        what = action.text().replace("&", "").rstrip("…")
        if keys and (keys, what) not in seen:
            seen.add((keys, what))
            rows.append((keys, what))
    return rows


def shortcuts_html(actions: list[QAction]) -> str:
    rows = "<tr><td><b>1 – 9</b></td><td>Label the selected images with that class (its key in the sidebar)</td></tr>"
    rows += "".join(f"<tr><td><b>{escape(keys)}</b>&nbsp;&nbsp;</td><td>{escape(what)}</td></tr>"
                   for keys, what in shortcut_rows(actions))
    return (f"<h3>Keyboard shortcuts</h3><table>{rows}</table><p>The number keys and Backspace label the images "
            "selected in the grid (or in Review) whatever was clicked last; in the search box, Enter or Escape "
            "gives them back to the grid.</p>")


def show_message(parent: QWidget, title: str, html: str) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.NoIcon, title, html, QMessageBox.StandardButton.Close, parent)
    box.setModal(False)
    box.show()
    return box
