"""The "Classify with Dovecote" window, driven like a user would, on a tiny folder with the trained project."""
import csv
import time
from functools import partial as bound

import pytest
from PySide6.QtCore import Qt

import desktop.classify.window as classify_window
import taskjobs
from colourproject import colour_images
from desktop.classify.window import RESUME, ClassifyWindow
from desktop.classify.model_picker import RecentModels


@pytest.fixture
def new_photos(tmp_path):
    root = colour_images(tmp_path / "new photos", per_class=5)
    (root / "broken.jpg").write_text("not a picture")
    return root


def show(qtbot, window):
    """Shown, with its model read (a background task)."""
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: not window.picker.loading, timeout=20_000)
    return window


def summary_table(window):
    return {window.table.item(r, 0).text(): int(window.table.item(r, 1).text()) for r in range(window.table.rowCount())}


def wait_until_done(qtbot, window):
    qtbot.waitUntil(lambda: window.task is None and not window.cancel_button.isVisible(), timeout=60_000)


def test_classifying_shows_a_summary_and_opens_the_results(qtbot, colour_project, new_photos, monkeypatch):
    folder, _ = colour_project
    window = show(qtbot, ClassifyWindow(new_photos, model=str(folder)))
    assert "2 classes" in window.picker.info.text()
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    assert window.cancel_button.isVisible() and not window.start_button.isEnabled()
    assert not window.picker.choose_button.isEnabled()  # the model cannot change under a running classification
    wait_until_done(qtbot, window)
    assert summary_table(window) == {"red": 5, "blue": 5, "unsure": 0, "unreadable": 1}
    assert "Done: 11 images classified" in window.status.text()
    assert (new_photos / "dovecote-predictions.csv").exists()

    opened = []
    monkeypatch.setattr(classify_window.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    assert window.open_button.isVisible() and not window.open_sorted_button.isVisible()
    qtbot.mouseClick(window.open_button, Qt.MouseButton.LeftButton)
    assert opened == [str(new_photos / "dovecote-predictions.csv")]
    assert RecentModels().paths() == [str(folder)]  # offered first next time


def test_from_the_file_manager_the_last_model_is_offered(qtbot, colour_project, new_photos):
    folder, _ = colour_project
    fresh = show(qtbot, ClassifyWindow(new_photos))
    assert fresh.picker.box.count() == 0 and not fresh.start_button.isEnabled()
    assert "Choose a Dovecote project" in fresh.picker.info.text()

    RecentModels().add(str(folder))
    window = show(qtbot, ClassifyWindow(new_photos))
    assert window.picker.box.currentData() == str(folder) and window.start_button.isEnabled()
    assert "2 classes" in window.picker.info.text()


def test_the_proposed_destination_is_beside_the_folder_not_inside(qtbot, colour_project, new_photos):
    folder, _ = colour_project
    window = show(qtbot, ClassifyWindow(new_photos, model=str(folder)))
    assert window.into == new_photos.parent / "new photos sorted"  # classifying again never reads the copies


def test_a_folder_without_a_model_is_explained(qtbot, new_photos, tmp_path):
    (tmp_path / "empty project" / ".dovecote").mkdir(parents=True)
    window = show(qtbot, ClassifyWindow(new_photos, model=str(tmp_path / "empty project")))
    assert "no trained model yet" in window.picker.info.text() and not window.start_button.isEnabled()


def test_sorting_with_unsure_images_set_aside(qtbot, colour_project, new_photos, tmp_path):
    folder, _ = colour_project
    into = tmp_path / "sorted"
    window = show(qtbot, ClassifyWindow(new_photos, model=str(folder), sort="copy", into=into, min_confidence=0.99))
    assert window.sort_box.isChecked() and window.into_button.text() == str(into)
    window.start()
    wait_until_done(qtbot, window)
    table = summary_table(window)
    assert table["red"] + table["blue"] + table["unsure"] == 10 and table["unreadable"] == 1
    folders = sorted(p.name for p in into.iterdir() if not p.name.startswith("."))  # less the hidden marker
    assert folders == sorted(n for n in ("red", "blue", "unsure") if table[n])
    assert window.open_sorted_button.isVisible()


def test_cancel_keeps_the_work_and_classify_continues_it(qtbot, colour_project, new_photos, monkeypatch, tmp_path):
    folder, _ = colour_project
    gate = tmp_path / "cancel pressed"  # the job waits after its first batch until the user has pressed Cancel
    monkeypatch.setattr(classify_window, "classify_folder", bound(taskjobs.held_classify, gate=str(gate)))
    colour_images(new_photos / "more", per_class=40)  # several batches of 32
    window = show(qtbot, ClassifyWindow(new_photos, model=str(folder)))
    window.start()
    qtbot.waitUntil(lambda: window.progress.value() > 0, timeout=60_000)
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    gate.touch()
    wait_until_done(qtbot, window)
    assert "Stopped" in window.status.text() and window.start_button.isEnabled()
    partial = new_photos / "dovecote-predictions.partial.csv"
    assert not (new_photos / "dovecote-predictions.csv").exists()
    with open(partial, newline="") as handle:
        kept = len(list(csv.DictReader(handle)))
    assert kept in (32, 64)  # the batch shown, and at most the one in the works when Cancel was pressed

    monkeypatch.setattr(classify_window, "ask_existing_results", lambda parent, output: RESUME)
    window.start()
    wait_until_done(qtbot, window)
    with open(new_photos / "dovecote-predictions.csv", newline="") as handle:
        paths = [row["path"] for row in csv.DictReader(handle)]
    assert len(paths) == len(set(paths)) == 91 and not partial.exists()
    assert sum(summary_table(window).values()) == 91
    assert f"({kept} before)" in window.status.text()


def test_closing_while_running_stops_within_seconds_and_keeps_the_rows(qtbot, colour_project, new_photos,
                                                                     monkeypatch, tmp_path):
    folder, _ = colour_project
    gate = tmp_path / "never"  # the run is held after its first batch: the window closes mid-run
    monkeypatch.setattr(classify_window, "classify_folder", bound(taskjobs.held_classify, gate=str(gate)))
    colour_images(new_photos / "more", per_class=40)
    window = show(qtbot, ClassifyWindow(new_photos, model=str(folder)))
    window.start()
    qtbot.waitUntil(lambda: window.progress.value() > 0, timeout=60_000)
    started = time.monotonic()
    window.close()
    assert not window.isVisible() and time.monotonic() - started < 6
    assert not window.tasks.tasks or not any(task.running for task in window.tasks.tasks)
    with open(new_photos / "dovecote-predictions.partial.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 32 and all(row["path"] for row in rows)  # the classified batch is kept, whole


def test_a_move_can_be_undone_from_the_window(qtbot, colour_project, new_photos, tmp_path):
    folder, _ = colour_project
    before = sorted(p.relative_to(new_photos) for p in new_photos.rglob("*.png"))
    window = show(qtbot, ClassifyWindow(new_photos, model=str(folder), sort="move", into=tmp_path / "sorted"))
    window.start()
    wait_until_done(qtbot, window)
    assert not list(new_photos.rglob("*.png")) and window.undo_button.isVisible()
    qtbot.mouseClick(window.undo_button, Qt.MouseButton.LeftButton)
    wait_until_done(qtbot, window)
    assert "Put 10 images back" in window.status.text() and not window.undo_button.isVisible()
    assert sorted(p.relative_to(new_photos) for p in new_photos.rglob("*.png")) == before


def test_the_summary_says_what_was_skipped(qtbot, colour_project, new_photos):
    folder, _ = colour_project
    (new_photos / ".hidden.png").write_bytes((new_photos / "broken.jpg").read_bytes())
    window = show(qtbot, ClassifyWindow(new_photos, model=str(folder)))
    qtbot.mouseClick(window.start_button, Qt.MouseButton.LeftButton)
    wait_until_done(qtbot, window)
    assert "1 skipped: 1 hidden" in window.status.text()
