"""Batch classification. Most tests use a stand-in model (colour → class), so that what they test is the
streaming, the CSV, sorting, cancel and resume; the last ones use a really trained project."""
import csv
import itertools

import numpy as np
import pytest
from PIL import Image

from core.models.backbones import Preprocessing
from core.models.bundles import load_model
from core.features.cache import load_embeddings, model_key
from core.project import Project
from core.storage import catalog
from core.events import Notice, Progress
from core.classify.batches import decoded_images
from core.classify.inference import ClassifyFinished, ClassifyRequest, ClassifyStarted, classify_folder
from core.classify.results_csv import OutputExists
from core.classify.sorting import undo_moves
from core.importing.walk import SORTED_MARKER
from imagegen import bad_files

PREP = Preprocessing(16, 16, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), version=1)
COLOURS = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}


class ColourPredictor:
    device = "cpu (test)"

    def __init__(self, sharp):
        self.sharp = sharp
        self.seen = 0

    def predict(self, batch):
        self.seen += len(batch)
        logits = batch.mean(axis=(2, 3)) * self.sharp  # the mean of each channel
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


class ColourBundle:
    """The parts of a ModelBundle that classification uses."""

    classes = ["red", "green", "blue"]
    preprocessing = PREP
    path = None

    def __init__(self, sharp=20.0):
        self.last = ColourPredictor(sharp)


def picture(path, colour, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "new photos"
    for i, (name, colour) in enumerate(COLOURS.items()):
        picture(root / f"{name}-{i}.png", colour)
        picture(root / "trip" / f"{name}.jpg", colour)
    picture(root / ".hidden.png", COLOURS["red"])
    picture(root / ".dovecote" / "thumbs" / "x.png", COLOURS["red"])
    return root


def run(request, bundle=None):
    bundle = bundle or ColourBundle()
    return list(classify_folder(request, bundle, bundle.last))


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_every_image_gets_a_row_with_class_confidence_probabilities_and_status(photos):
    bad = bad_files(photos / "inbox")
    before = snapshot(photos)
    events = run(ClassifyRequest(photos, batch_size=4))
    out = photos / "dovecote-predictions.csv"
    with open(out, newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == ["path", "predicted", "confidence", "red", "green", "blue", "status"]
    rows = {r["path"]: r for r in read_csv(out)}
    assert set(rows) == {"red-0.png", "green-1.png", "blue-2.png", "trip/red.jpg", "trip/green.jpg",
                         "trip/blue.jpg", *(f"inbox/{name}" for name in bad)}  # no hidden files or stores
    assert rows["trip/green.jpg"]["predicted"] == "green" and rows["blue-2.png"]["predicted"] == "blue"
    green = rows["trip/green.jpg"]
    assert float(green["confidence"]) == pytest.approx(max(float(green[c]) for c in COLOURS), abs=1e-6)
    assert sum(float(green[c]) for c in COLOURS) == pytest.approx(1.0, abs=1e-4)
    for name, expected in bad.items():
        status = rows[f"inbox/{name}"]["status"]
        assert status == "ok" if expected == "ok" else expected in status and rows[f"inbox/{name}"]["predicted"] == ""
    summary = events[-1].summary
    assert summary.unreadable == 4 and summary.classified == len(rows)
    assert summary.counts["green"] >= 2 and sum(summary.counts.values()) == len(rows) - 4
    assert sum(isinstance(e, Notice) for e in events) == 4
    assert snapshot(photos).keys() - before.keys() == {"dovecote-predictions.csv"}  # nothing else changed
    assert all(snapshot(photos)[k] == v for k, v in before.items())


def test_an_existing_result_is_never_overwritten_without_asking(photos):
    out = photos / "dovecote-predictions.csv"
    out.write_text("my precious notes")
    with pytest.raises(OutputExists, match="--overwrite"):
        run(ClassifyRequest(photos))
    assert out.read_text() == "my precious notes"
    run(ClassifyRequest(photos, overwrite=True))
    assert len(read_csv(out)) == 6


def test_cancel_leaves_a_partial_csv_that_resume_finishes_without_redoing_work(photos, tmp_path):
    for i in range(6):
        picture(photos / "more" / f"{i}.png", COLOURS["blue"])
    out = tmp_path / "results" / "pred.csv"
    bundle = ColourBundle()
    events = classify_folder(ClassifyRequest(photos, output=out, batch_size=4), bundle, bundle.last)
    for event in events:
        if isinstance(event, Progress) and event.phase == "Classifying" and event.done == 8:
            events.close()  # what the GUI's cancel and the CLI's Ctrl+C do
    partial = tmp_path / "results" / "pred.partial.csv"
    assert not out.exists() and len(read_csv(partial)) == 8

    with pytest.raises(OutputExists, match="--resume"):
        run(ClassifyRequest(photos, output=out))
    second = ColourBundle()
    started, *_, finished = [e for e in run(ClassifyRequest(photos, output=out, resume=True), second)
                             if isinstance(e, (ClassifyStarted, ClassifyFinished))]
    assert (started.already_done, started.total, second.last.seen) == (8, 4, 4)
    rows = read_csv(out)
    assert len(rows) == len({r["path"] for r in rows}) == 12 and not partial.exists()
    assert finished.summary.counts["blue"] == 8  # the summary covers the resumed rows too

    picture(photos / "later.png", COLOURS["red"])  # resume on a finished CSV adds only new images
    third = ColourBundle()
    run(ClassifyRequest(photos, output=out, resume=True), third)
    assert third.last.seen == 1 and len(read_csv(out)) == 13


def test_resume_cuts_a_half_written_row(photos):
    partial = photos / "dovecote-predictions.partial.csv"
    partial.write_text("path,predicted,confidence,red,green,blue,status\r\nred-0.png,red,0.9,0.9,0.05,0.05,ok\r\ntrip/gr")
    run(ClassifyRequest(photos, resume=True))
    rows = read_csv(photos / "dovecote-predictions.csv")
    assert sorted(r["path"] for r in rows) == sorted({"red-0.png", "green-1.png", "blue-2.png", "trip/red.jpg",
                                                      "trip/green.jpg", "trip/blue.jpg"})


def test_resume_refuses_a_csv_made_with_other_classes(photos):
    (photos / "dovecote-predictions.csv").write_text("path,predicted,confidence,cats,dogs,status\n")
    with pytest.raises(OutputExists, match="another model"):
        run(ClassifyRequest(photos, resume=True))


def test_copy_into_class_folders_with_uncertain_images_set_aside(photos, tmp_path):
    picture(photos / "grey.png", (128, 128, 128))  # equally red, green and blue: nobody should guess
    into = tmp_path / "sorted"
    before = snapshot(photos)
    summary = run(ClassifyRequest(photos, sort="copy", into=into, min_confidence=0.6))[-1].summary
    tree = sorted(p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file())
    assert tree == [SORTED_MARKER, "blue/blue-2.png", "blue/blue.jpg", "green/green-1.png", "green/green.jpg",
                    "red/red-0.png", "red/red.jpg", "unsure/grey.png"]
    assert summary.unsure == 1 and summary.counts == {"red": 2, "green": 2, "blue": 2}
    rows = {r["path"]: r for r in read_csv(photos / "dovecote-predictions.csv")}
    assert rows["grey.png"]["predicted"] == "unsure"
    after = snapshot(photos)
    assert {k: after[k] for k in before} == before  # a copy leaves the originals alone


def test_move_into_a_folder_inside_target_then_undo_restores_everything(photos):
    before = snapshot(photos)
    into = photos / "sorted"
    started = next(e for e in run(ClassifyRequest(photos, sort="move", into=into)) if isinstance(e, ClassifyStarted))
    assert started.journal.parent == into and started.journal.exists()
    left = sorted(p.relative_to(photos).as_posix() for p in photos.rglob("*.*") if p.is_file()
                  and "sorted" not in p.parts and ".dovecote" not in p.parts)
    assert left == [".hidden.png", "dovecote-predictions.csv"]
    assert len(list((into / "red").iterdir())) == 2
    rerun = run(ClassifyRequest(photos, sort="copy", into=into, overwrite=True))
    assert rerun[-1].summary.classified == 0  # the --into folder is never classified

    assert list(undo_moves(started.journal))[-1].summary.restored == 6
    after = snapshot(photos)
    assert {k: after[k] for k in before} == before


def test_decoding_runs_a_bounded_distance_ahead_of_the_network(photos):
    """Memory does not grow with the folder: however many files, only a few batches are decoded ahead."""
    pulled = []

    def paths():
        for i in itertools.count():
            pulled.append(i)
            yield "red-0.png"

    stream = decoded_images(photos, paths(), PREP, batch_size=4)
    first = [next(stream) for _ in range(3)]
    assert all(isinstance(array, np.ndarray) and array.shape == (3, 16, 16) for _, array in first)
    assert len(pulled) < 3 + 2 * 4 + 64
    stream.close()


def test_classify_with_a_project_gives_what_its_run_computed_for_its_own_images(colour_project, tmp_path):
    """Same preprocessing as training: the CSV's probabilities equal the run's model applied to the
    embeddings training cached for the same images (in fp32, as training computed them; tests/core/test_int8.py
    compares int8 with fp32)."""
    folder, run_id = colour_project
    out = tmp_path / "own.csv"
    request = ClassifyRequest(folder, model=folder, output=out, batch_size=5, precision="fp32")
    finished = list(classify_folder(request))[-1]
    rows = {r["path"]: r for r in read_csv(out)}
    assert finished.summary.counts == {"red": 6, "blue": 6}
    assert all(path.split("/")[0] == row["predicted"] for path, row in rows.items())

    bundle = load_model(folder, run_id)
    with Project.open(folder) as project:
        with project.session() as session:
            images = {i.path: i.content_hash for i in catalog.all_images(session)}
        cached = load_embeddings(project, list(images.values()), model_key(bundle.spec))
    expected = bundle.head.predict_proba(cached)
    for path, probs in zip(images, expected):
        assert [float(rows[path][c]) for c in bundle.classes] == pytest.approx(probs.tolist(), abs=2e-4)


def test_a_class_named_like_a_column_keeps_every_column_distinct():
    from core.classify.results_csv import header

    assert header(["status", "cat", "path"]) == ["path", "predicted", "confidence", "status (probability)", "cat",
                                                 "path (probability)", "status"]


@pytest.mark.parametrize("changes, message", [
    (dict(sort="move"), "--into"),
    (dict(into="elsewhere"), "--sort"),
    (dict(sort="copy", into="."), "folder of its own"),
    (dict(min_confidence=1.5), "between 0 and 1"),
    (dict(overwrite=True, resume=True), "not both"),
])
def test_mistakes_are_reported_before_any_work(photos, changes, message):
    from core.errors import DovecoteError

    if "into" in changes:
        changes["into"] = photos / changes["into"]
    before = snapshot(photos)
    with pytest.raises(DovecoteError, match=message):
        run(ClassifyRequest(photos, **changes))
    assert snapshot(photos) == before
