"""Issue 12: the hostile-input corpus. File names that are not UTF-8 (10), crafted model files (14), a
--journal that exists (15) and entries that used to be skipped in silence (16)."""
import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from core.classify.inference import ClassifyFinished, ClassifyRequest, classify_folder
from core.errors import DovecoteError
from core.importing import walk
from core.importing.scanning import ImportFinished, import_folder
from core.models.backbones import Preprocessing, get_backbone
from core.models.bundles import FORMAT, BundleError, ModelBundle, load_model
from core.models.heads import HeadModel
from core.project import Project
from core.storage import catalog, labels
from core.storage.paths import escaped, shown
from imagegen import solid

SPEC = get_backbone("efficientnet_lite0")
SMALL = Preprocessing(64, 73, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 1)
RAW_NAMES = (b"z_\xff.png", b"z_\xfe.png", b"caf\xe9.jpg")  # Latin-1 names from an old disk: not UTF-8


def raw_image(folder: Path, raw_name: bytes, colour=(200, 30, 30)) -> str:
    """Writes an image under a name that is not UTF-8; returns the name as Python sees it (surrogateescape)."""
    name = os.fsdecode(raw_name)
    solid(folder / name, colour, fmt="PNG")
    return name


def imported(root: Path, **options):
    with Project.open(root) as project:
        return [e for e in import_folder(project, **options) if isinstance(e, ImportFinished)][0].summary


# ---- 10: names that are not valid UTF-8

def test_names_that_are_not_utf8_import_with_the_rest_of_the_folder(tmp_path):
    names = [raw_image(tmp_path, raw) for raw in RAW_NAMES]
    solid(tmp_path / "plain.png")
    subfolder = os.fsdecode(b"f\xf6lder")  # a class folder with such a name, too
    inner = raw_image(tmp_path / subfolder, b"\xe4.png")
    summary = imported(tmp_path, labels_from_subfolders=True)
    assert (summary.found, summary.added, summary.unreadable) == (5, 5, 0)
    with Project.open(tmp_path) as project, project.session() as session:
        stored = {row.path for row in catalog.all_images(session)}
        assert stored == {*names, "plain.png", f"{subfolder}/{inner}"}  # byte for byte
        for name in names:  # the stored path opens the very file
            assert (tmp_path / catalog.image_by_path(session, name).path).read_bytes()[:4] == b"\x89PNG"
        assert [c.name for c in labels.list_classes(session)] == ["f\ufffdlder"]  # readable class name
    again = imported(tmp_path)  # a rescan recognises every one of them: nothing new, nothing missing
    assert (again.added, again.missing, again.updated) == (0, 0, 0)


def test_such_names_are_shown_with_replacement_characters_and_escaped_in_files():
    name = os.fsdecode(b"z_\xff.png")
    assert shown(name) == "z_\ufffd.png" and escaped(name) == "z_\\xff.png"
    assert shown("sommer ü.png") == escaped("sommer ü.png") == "sommer ü.png"


def test_classify_writes_a_valid_utf8_csv_for_such_names(tmp_path, colour_project):
    folder, _ = colour_project
    target = tmp_path / "new"
    target.mkdir()
    names = [raw_image(target, raw, colour) for raw, colour in zip(RAW_NAMES, ((220, 40, 30), (30, 60, 220), (220, 40, 30)))]
    events = list(classify_folder(ClassifyRequest(target, model=folder, device="cpu")))
    summary = events[-1].summary
    assert isinstance(events[-1], ClassifyFinished) and summary.classified == 3 and summary.unreadable == 0
    text = summary.output.read_bytes().decode("utf-8")  # strict: raises on the raw bytes of the old CSV
    rows = {r["path"]: r for r in csv.DictReader(text.splitlines())}
    assert set(rows) == {escaped(n) for n in names} == {"z_\\xff.png", "z_\\xfe.png", "caf\\xe9.jpg"}
    assert rows["z_\\xff.png"]["predicted"] == "red" and rows["z_\\xfe.png"]["predicted"] == "blue"
    # --resume recognises the escaped rows: nothing is classified twice
    os.replace(summary.output, summary.output.with_name("dovecote-predictions.partial.csv"))
    resumed = list(classify_folder(ClassifyRequest(target, model=folder, device="cpu", resume=True)))[-1].summary
    assert (resumed.classified, resumed.already_done) == (0, 3)


# ---- 14: crafted model files

@pytest.fixture
def good_model(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    head = HeadModel({"fc1.weight": rng.normal(size=(8, SPEC.feature_dim)) * 0.05, "fc1.bias": rng.normal(size=8),
                      "fc2.weight": rng.normal(size=(2, 8)), "fc2.bias": np.zeros(2)})
    backbone = {"stem.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
                "stem.num_batches_tracked": np.array(3, np.int64)}
    return ModelBundle(["cat", "dog"], SPEC.name, SMALL, head, backbone_state=backbone).save(tmp_path / "good.safetensors")


def crafted(good: Path, out: Path, header_text=None, change=None, tensor_change=None) -> Path:
    with safe_open(str(good), framework="numpy") as handle:
        header = json.loads(handle.metadata()[FORMAT])
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    if change:
        change(header)
    if tensor_change:
        tensor_change(tensors)
    save_file(tensors, str(out), metadata={FORMAT: header_text if header_text is not None else json.dumps(header)})
    return out


def _set(path: str, value):
    def change(header):
        *parents, last = path.split(".")
        target = header
        for key in parents:
            target = target[key]
        target[last] = value
    return change


def _nan(tensors):
    tensors["head.fc2.weight"] = tensors["head.fc2.weight"].copy()
    tensors["head.fc2.weight"][0, 0] = np.nan


def _nan_backbone(tensors):
    tensors["backbone.stem.weight"] = tensors["backbone.stem.weight"].copy()
    tensors["backbone.stem.weight"][0, 0, 0, 0] = np.inf


CRAFTED = {
    "format_version is text": dict(change=_set("format_version", "abc")),
    "format_version is true": dict(change=_set("format_version", True)),
    "negative input size": dict(change=_set("preprocessing.input_size", -5)),
    "huge input size": dict(change=_set("preprocessing.input_size", 100000)),
    "input size as text": dict(change=_set("preprocessing.input_size", "224")),
    "resize below the crop": dict(change=_set("preprocessing.resize", 10)),
    "zero std": dict(change=_set("preprocessing.std", [0, 0, 0])),
    "two means": dict(change=_set("preprocessing.mean", [0.5, 0.5])),
    "classes not a list": dict(change=_set("classes", "cat,dog")),
    "classes of numbers": dict(change=_set("classes", [1, 2])),
    "duplicate classes": dict(change=_set("classes", ["cat", "cat"])),
    "backbone a number": dict(change=_set("backbone", 7)),
    "preprocessing a list": dict(change=_set("preprocessing", [224])),
    "NaN in the metadata": dict(header_text=None, change=_set("preprocessing.mean", [float("nan")] * 3)),
    "nested 100,000 deep": dict(header_text='{"format": "dovecote-model", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "NaN in the head": dict(tensor_change=_nan),
    "infinity in the backbone": dict(tensor_change=_nan_backbone),
    "head of the wrong shape": dict(tensor_change=lambda t: t.update({"head.fc2.bias": np.zeros(5, np.float32)})),
    "head in integers": dict(tensor_change=lambda t: t.update({"head.fc2.bias": np.zeros(2, np.int32)})),
    "a stray tensor": dict(tensor_change=lambda t: t.update({"payload": np.zeros(2, np.float32)})),
}


@pytest.mark.parametrize("case", CRAFTED)
def test_crafted_model_files_are_refused_before_anything_uses_them(case, good_model, tmp_path, dovecote_cache_dir):
    before = sorted(p for p in dovecote_cache_dir.rglob("*"))
    path = crafted(good_model, tmp_path / "crafted.safetensors", **CRAFTED[case])
    with pytest.raises(BundleError, match="damaged Dovecote model") as refused:
        load_model(path)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 400
    assert sorted(p for p in dovecote_cache_dir.rglob("*")) == before  # nothing written to the user's cache


def test_the_untouched_model_still_loads(good_model):
    assert load_model(good_model).classes == ["cat", "dog"]


def test_a_newer_format_is_told_apart_from_a_damaged_file(good_model, tmp_path):
    path = crafted(good_model, tmp_path / "newer.safetensors", change=_set("format_version", 99))
    with pytest.raises(BundleError, match="newer Dovecote"):
        load_model(path)


# ---- 15: a --journal that exists

def test_an_existing_journal_is_refused_before_any_file_moves(tmp_path, colour_project):
    folder, _ = colour_project
    target = tmp_path / "new"
    solid(target / "a.png")
    journal = tmp_path / "moves.jsonl"
    journal.write_text("an earlier journal")
    request = ClassifyRequest(target, model=folder, sort="move", into=tmp_path / "sorted", journal=journal)
    with pytest.raises(DovecoteError, match="exists already"):
        list(classify_folder(request))
    assert journal.read_text() == "an earlier journal" and (target / "a.png").exists()


# ---- 16: entries that were skipped in silence

def test_every_skipped_entry_is_counted_by_reason(tmp_path):
    root = tmp_path / "photos"
    solid(root / "a.png")
    os.mkfifo(root / "x.jpg")
    (root / "loop").symlink_to(root / "loop")  # a link to itself
    (root / "dangling.png").symlink_to(root / "gone.png")
    (root / "drawing.svg").write_text("<svg/>")
    solid(root / ".hidden.png")
    (root / "notes.txt").write_text("not an image, and not worth a mention")
    outside = solid(tmp_path / "elsewhere" / "b.png")
    (root / "linked.png").symlink_to(outside)
    (root / "inside.png").symlink_to(root / "a.png")  # a link within the folder is followed
    summary = imported(root)
    assert summary.found == 2 and summary.unreadable == 0
    assert dict(summary.skipped) == {walk.NOT_REGULAR: 1, walk.LINK_LOOP: 1, walk.BROKEN_LINK: 1,
                                     walk.UNSUPPORTED: 1, walk.HIDDEN: 1, walk.OUTSIDE: 1}
    assert summary.skipped_text().startswith("6 skipped: ")
    followed = imported(root, follow_links=True)  # only when asked
    assert followed.added == 1 and walk.OUTSIDE not in followed.skipped


def test_a_folder_sorted_into_is_never_classified_again(tmp_path, colour_project):
    folder, _ = colour_project
    target = tmp_path / "new"
    for i in range(3):
        solid(target / f"{i}.png", (220, 40, 30))
    first = list(classify_folder(ClassifyRequest(target, model=folder, sort="copy", into=target / "sorted")))[-1]
    assert first.summary.classified == 3 and len(list((target / "sorted" / "red").iterdir())) == 3
    again = list(classify_folder(ClassifyRequest(target, model=folder, overwrite=True)))[-1].summary
    assert again.classified == 3  # the originals only, not their copies
    assert again.skipped == {walk.SORTED_OUTPUT: 1}


def test_classify_follows_a_link_outside_the_folder_only_when_asked(tmp_path, colour_project):
    folder, _ = colour_project
    target = tmp_path / "new"
    solid(target / "a.png", (220, 40, 30))
    (target / "b.png").symlink_to(solid(tmp_path / "elsewhere" / "b.png", (30, 60, 220)))
    plain = list(classify_folder(ClassifyRequest(target, model=folder, device="cpu")))[-1].summary
    assert plain.classified == 1 and plain.skipped == {walk.OUTSIDE: 1}
    followed = list(classify_folder(ClassifyRequest(target, model=folder, device="cpu", overwrite=True,
                                                    follow_links=True)))[-1].summary
    assert followed.classified == 2 and not followed.skipped
