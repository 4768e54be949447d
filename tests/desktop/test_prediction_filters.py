"""The filter bar's prediction filters: what the latest finished run predicted, its unsure guesses, and the
labelled images it disagrees with."""
from __future__ import annotations

import re

from PySide6.QtCore import Qt

from core.project import Project
from core.importing.scanning import import_folder
from core.storage import catalog, gallery, labels, predictions, runs
from core.storage.predictions import StoredPrediction


def paths(window) -> list[str]:
    return [window.model.card(r).path for r in range(window.model.rowCount())]


def entries(window) -> list[str]:
    """The Show box's entries without their counts (tests/desktop/test_newcomer.py checks those)."""
    box = window.filter_bar.show_box
    return [re.sub(r" \([\d,]+\)$", "", box.itemText(i)) for i in range(box.count()) if box.itemText(i)]


def train_a_fake_run(folder) -> None:
    """Import `folder` with its subfolders as classes and store a finished run that predicts every image its
    own class, except cats/3 (predicted dogs) and an unsure dogs/0."""
    with Project.open(folder) as project:
        for _ in import_folder(project, labels_from_subfolders=True):
            pass
        with project.session() as session:
            class_ids = {info.name: info.id for info in labels.list_classes(session)}
            run_id = runs.start_run(session, "fake", {}, seed=0, device="cpu")
            rows = []
            for name in ("cats", "dogs"):
                for i in range(4):
                    image = catalog.image_by_path(session, f"{name}/{i}.png")
                    guess = "dogs" if (name, i) == ("cats", 3) else name
                    confidence = 0.5 if (name, i) == ("dogs", 0) else 0.9
                    rows.append(StoredPrediction(image.id, class_ids[guess], confidence, [0.5, 0.5]))
            predictions.replace_predictions(session, run_id, "oof", rows)
            runs.end_run(session, run_id, "finished")


def test_no_prediction_filters_before_a_run(window, open_folder, folder):
    open_folder(window, folder, subfolders_as_classes=True)
    assert entries(window) == ["All images", "Unlabelled", "cats", "dogs", "Unreadable"]


def test_predicted_class_and_low_confidence_filters(window, open_folder, folder):
    train_a_fake_run(folder)
    open_folder(window, folder)
    assert entries(window) == ["All images", "Unlabelled", "cats", "dogs", "Model disagrees with label",
                               "Low confidence", "Predicted: cats", "Predicted: dogs", "Unreadable"]
    dogs = next(c for c in window.context.classes if c.name == "dogs")
    window.filter_bar.show_only(gallery.SHOW_PREDICTED, dogs.id)
    assert paths(window) == ["cats/3.png"] + [f"dogs/{i}.png" for i in range(4)]
    window.filter_bar.show_only(gallery.SHOW_LOW_CONFIDENCE)
    assert paths(window) == ["dogs/0.png"]


def test_fixing_a_mistake_drops_it_from_model_disagrees(qtbot, window, open_folder, folder):
    train_a_fake_run(folder)
    open_folder(window, folder)
    window.filter_bar.show_only(gallery.SHOW_DISAGREES)
    assert paths(window) == ["cats/3.png"]
    window.grid.select_ids([window.model.image_id(0)])
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_2)  # dogs, as the model said
    qtbot.waitUntil(lambda: paths(window) == [])
