import json
import os

import pytest

from core.errors import DovecoteError
from core.importing.walk import SORTED_MARKER

from core.classify.sorting import (
    UNSURE,
    BadJournal,
    MoveJournal,
    Sorter,
    UndoFinished,
    class_folder_names,
    safe_folder_name,
    undo_moves,
)


@pytest.mark.parametrize("name", ["..", ".", "a/b", "a\\b", "con", "CON.txt", "Lpt1", "what?", "tab\there",
                                  "dots...", "  spaced  ", ".hidden", "", "x" * 400, "日本" * 100, 'say "hi"'])
def test_safe_names_are_plain_folder_names_on_every_os(name, tmp_path):
    safe = safe_folder_name(name)
    assert safe and safe not in (".", "..")
    assert not set(safe) & set('<>:"/\\|?*') and all(ord(c) >= 32 for c in safe)
    assert not safe.startswith(".") and not safe.endswith((".", " "))
    assert safe.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "LPT1", "COM1"}
    assert len(safe.encode()) <= 200
    (tmp_path / safe).mkdir()  # and it really is one folder, directly inside
    assert [p.name for p in tmp_path.iterdir()] == [safe]


def test_ordinary_names_are_kept():
    assert safe_folder_name("golden retriever") == "golden retriever"
    assert safe_folder_name("Überraschung ✓") == "Überraschung ✓"


def test_classes_get_distinct_folders_even_on_case_insensitive_disks():
    folders = class_folder_names(["Cat", "cat", "a/b", "a_b", "Unsure"])
    values = [v.casefold() for v in [*folders.values(), UNSURE]]
    assert len(values) == len(set(values)) == 6
    assert folders["Unsure"] == "Unsure (2)"  # the unsure folder stays for the uncertain images


def _images(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"image {name}".encode())
    return [root / n for n in names]


def test_copy_keeps_originals_and_never_overwrites(tmp_path):
    a, b = _images(tmp_path / "in", ["x/pic.jpg", "y/pic.jpg"])
    into = tmp_path / "out"
    (into / "cats").mkdir(parents=True)
    (into / "cats" / "pic.jpg").write_bytes(b"already here")
    sorter = Sorter(into, ["cats"], move=False)
    first, second = sorter.place(a, "cats"), sorter.place(b, "cats")
    assert (into / "cats" / "pic.jpg").read_bytes() == b"already here"
    assert {first.name, second.name} == {"pic (2).jpg", "pic (3).jpg"}
    assert first.read_bytes() == b"image x/pic.jpg" and a.exists() and b.exists()
    assert sorter.place(a, None).parent == into / "unsure"


def test_move_then_undo_puts_every_file_back(tmp_path):
    root = tmp_path / "in"
    sources = _images(root, ["a.jpg", "sub/b.jpg", "sub/a.jpg"])
    into = tmp_path / "out"
    journal_path = MoveJournal.default_path(into)
    sorter = Sorter(into, ["cats", "dogs"], move=True, journal=MoveJournal(journal_path, root, into))
    moved = [sorter.place(sources[0], "cats"), sorter.place(sources[1], "dogs"), sorter.place(sources[2], "cats")]
    sorter.close()
    assert not any(s.exists() for s in sources)
    assert [m.relative_to(into).as_posix() for m in moved] == ["cats/a.jpg", "dogs/b.jpg", "cats/a (2).jpg"]
    entries = [json.loads(line) for line in journal_path.read_text().splitlines()]
    assert [e.get("op") for e in entries[1:]] == ["mkdir", "move", "mkdir", "move", "move"]

    summary = list(undo_moves(journal_path))[-1].summary
    assert summary.restored == 3 and not summary.conflicts and not summary.missing
    assert [s.read_bytes() for s in sources] == [b"image a.jpg", b"image sub/b.jpg", b"image sub/a.jpg"]
    # the class folders it made are gone; the hidden marker stays, so the folder is still never classified
    assert sorted(p.name for p in into.iterdir()) == [SORTED_MARKER, journal_path.name]

    again = list(undo_moves(journal_path))[-1]
    assert isinstance(again, UndoFinished) and again.summary.already_back == 3 and again.summary.restored == 0


def test_undo_refuses_to_overwrite_a_file_now_at_the_original_place(tmp_path):
    root, into = tmp_path / "in", tmp_path / "out"
    (source,) = _images(root, ["a.jpg"])
    journal = MoveJournal(into / "j.jsonl", root, into)
    sorter = Sorter(into, ["cats"], move=True, journal=journal)
    moved = sorter.place(source, "cats")
    sorter.close()
    source.write_bytes(b"a new file with the old name")
    summary = list(undo_moves(into / "j.jsonl"))[-1].summary
    assert summary.conflicts == [(str(source), str(moved))]
    assert source.read_bytes() == b"a new file with the old name" and moved.exists()


def test_a_journal_written_before_a_crash_is_still_followed(tmp_path):
    """The entry is on disk before the move: a torn last line (crash mid-write) is ignored, and an entry
    whose move never happened counts as already back."""
    root, into = tmp_path / "in", tmp_path / "out"
    a, b = _images(root, ["a.jpg", "b.jpg"])
    journal = MoveJournal(into / "j.jsonl", root, into)
    sorter = Sorter(into, ["cats"], move=True, journal=journal)
    sorter.place(a, "cats")
    journal.moving(b, into / "cats" / "b.jpg")  # crashed before moving b
    sorter.close()
    with open(into / "j.jsonl", "a") as handle:
        handle.write('{"op": "move", "src": "/tor')
    summary = list(undo_moves(into / "j.jsonl"))[-1].summary
    assert (summary.restored, summary.already_back) == (1, 1) and a.exists() and b.exists()


def test_undo_rejects_files_that_are_not_journals(tmp_path):
    other = tmp_path / "notes.jsonl"
    other.write_text('{"hello": 1}\n')
    with pytest.raises(BadJournal, match="not a Dovecote move journal"):
        list(undo_moves(other))
    with pytest.raises(BadJournal, match="does not exist"):
        list(undo_moves(tmp_path / "nope.jsonl"))


def test_an_existing_journal_is_never_replaced(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text("precious")
    with pytest.raises(DovecoteError, match="exists already"):
        MoveJournal(path, tmp_path, tmp_path)
    assert path.read_text() == "precious"


@pytest.mark.skipif(not hasattr(os, "link"), reason="hard links")
def test_move_keeps_the_file_timestamps(tmp_path):
    (source,) = _images(tmp_path / "in", ["old.jpg"])
    os.utime(source, (1_000_000, 1_000_000))
    sorter = Sorter(tmp_path / "out", ["c"], move=True, journal=MoveJournal(tmp_path / "j.jsonl", tmp_path, tmp_path))
    moved = sorter.place(source, "c")
    assert moved.stat().st_mtime == 1_000_000
