"""Sorting classified images into a folder per class: names safe on every OS, never an overwrite, and a
journal for moves so that `dovecote undo` can put every file back."""
from __future__ import annotations

import json
import os
import shutil
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator

from core.errors import DovecoteError
from core.events import Progress
from core.importing.walk import SORTED_MARKER

UNSURE = "unsure"
JOURNAL_KIND = "dovecote-moves"
# Windows refuses these characters in names and these names (with any extension) as files or folders.
_FORBIDDEN = set('<>:"/\\|?*')
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{port}{n}" for port in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]
}
_MAX_NAME_BYTES = 200  # under every file system's 255, with room for a " (12)" suffix


def safe_folder_name(name: str) -> str:
    """A folder name that means the same thing on Linux, Windows and macOS: no separators, no `.`/`..`,
    no characters or names Windows reserves, no trailing dot or space, not hidden, not too long."""
    text = unicodedata.normalize("NFC", name)
    text = "".join("_" if ch in _FORBIDDEN or ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)
    text = text.strip().rstrip(". ")
    if text.startswith("."):
        text = "_" + text.lstrip(".")
    if text.split(".")[0].rstrip().upper() in _RESERVED:
        text = "_" + text
    while len(text.encode("utf-8")) > _MAX_NAME_BYTES:
        text = text[:-1]
    return text.rstrip(". ") or "_"


def class_folder_names(classes: list[str]) -> dict[str, str]:
    """Class name → folder name. Distinct classes get distinct folders even where the file system ignores
    case ("Cat" and "cat") or where making names safe made them equal; none takes the unsure folder."""
    taken: set[str] = {UNSURE}
    folders = {}
    for name in classes:
        base = safe_folder_name(name)
        candidate, n = base, 2
        while candidate.casefold() in taken:
            candidate, n = f"{base} ({n})", n + 1
        taken.add(candidate.casefold())
        folders[name] = candidate
    return folders


def _numbered(folder: Path, name: str) -> Iterator[Path]:
    """name, then "stem (2).ext", "stem (3).ext", ...: candidates for a file that must not overwrite."""
    yield folder / name
    stem, suffix = os.path.splitext(name)
    n = 2
    while True:
        yield folder / f"{stem} ({n}){suffix}"
        n += 1


def _copy_exclusive(source: Path, destination: Path) -> None:
    """Copy with the timestamps; opening with "x" fails if the destination exists, so nothing is overwritten."""
    try:
        with open(source, "rb") as src, open(destination, "xb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except FileExistsError:
        raise
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    shutil.copystat(source, destination)


def _move_exclusive(source: Path, destination: Path) -> None:
    """Move without ever replacing a file: a hard link fails if the destination exists. Where links are
    impossible (another drive, FAT), copy exclusively and then delete the original."""
    try:
        os.link(source, destination)
    except FileExistsError:
        raise
    except OSError:
        _copy_exclusive(source, destination)
    os.unlink(source)


def place_file(source: Path, folder: Path, move: bool, before_move=None) -> Path:
    """Copy or move `source` into `folder` under its own name, or a numbered one if that is taken.
    `before_move(destination)` runs just before a move (the journal entry). Returns where it went."""
    for destination in _numbered(folder, source.name):
        if destination.exists() or destination.is_symlink():
            continue
        if move and before_move is not None:
            before_move(destination)
        try:
            (_move_exclusive if move else _copy_exclusive)(source, destination)
            return destination
        except FileExistsError:
            continue  # taken by someone else since the check: try the next number


def check_journal_path(path: Path) -> None:
    """Refuse, before any file moves, a journal path that names an existing file or a folder."""
    if path.is_dir():
        raise DovecoteError(f"{path} is a folder; --journal needs the name of a new file, e.g. "
                            f"{path / 'moves.jsonl'}.")
    if path.exists() or path.is_symlink():
        raise _journal_exists(path)


def _journal_exists(path: Path) -> DovecoteError:
    return DovecoteError(f"The journal {path} exists already, and a journal is never overwritten (it may be "
                         "the only way to undo an earlier move). Give a new file name with --journal, or leave "
                         "--journal out to get a new journal beside the sorted images.")


class MoveJournal:
    """JSON lines: a header, then one entry per folder created and per move, each on disk (fsync) before
    the change it describes, so that even a crash or power cut leaves a journal undo can follow."""

    def __init__(self, path: Path, root: Path, into: Path):
        self.path = path
        check_journal_path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "x", encoding="utf-8")  # "x": an existing journal is never replaced
        except FileExistsError:
            raise _journal_exists(path) from None
        except OSError as error:
            raise DovecoteError(f"Cannot write the undo journal {path} ({error.strerror or error}). "
                                "Give another place with --journal FILE.") from None
        self._write({"kind": JOURNAL_KIND, "version": 1, "root": str(root), "into": str(into),
                     "created": datetime.now().isoformat(timespec="seconds")})

    @staticmethod
    def default_path(into: Path) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return next(p for p in _numbered(into, f"dovecote-moves-{stamp}.jsonl") if not p.exists())

    def folder_created(self, folder: Path) -> None:
        self._write({"op": "mkdir", "path": str(folder)})

    def moving(self, source: Path, destination: Path) -> None:
        self._write({"op": "move", "src": str(source), "dst": str(destination)})

    def _write(self, entry: dict) -> None:
        self._file.write(json.dumps(entry) + "\n")  # ASCII escapes keep undecodable names intact
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def default_destination(target: Path) -> Path:
    """Where to propose sorting `target`'s images: a folder beside it ("Photos sorted"), never inside it,
    so that classifying the folder again does not read the copies."""
    target = Path(target)
    if target.parent == target:  # a drive root has nothing beside it: the marker keeps the copies out
        return target / "sorted"
    return target.parent / f"{target.name} sorted"


class Sorter:
    """Copies or moves each classified image into `into/<class folder>/`, creating folders on first use.
    `into` gets a hidden marker file, so that classifying a folder that holds it leaves it out."""

    def __init__(self, into: Path, classes: list[str], move: bool, journal: MoveJournal | None = None):
        if move and journal is None:
            raise ValueError("a move needs a journal")
        into.mkdir(parents=True, exist_ok=True)
        (into / SORTED_MARKER).touch()
        self.into = into
        self.move = move
        self.folders = class_folder_names(classes)
        self._journal = journal
        self._ready: set[Path] = set()

    def place(self, source: Path, class_name: str | None) -> Path:
        """Put one image into its class folder, or the unsure folder for None; returns its new path."""
        folder = self.into / (UNSURE if class_name is None else self.folders[class_name])
        if folder not in self._ready:
            if not folder.is_dir():
                if self._journal is not None:
                    self._journal.folder_created(folder)
                folder.mkdir(parents=True, exist_ok=True)
            self._ready.add(folder)
        journal = self._journal
        return place_file(source, folder, self.move,
                          before_move=(lambda dst: journal.moving(source, dst)) if journal else None)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()


@dataclass
class UndoSummary:
    restored: int = 0
    already_back: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (original, moved-to): both exist now
    missing: list[tuple[str, str]] = field(default_factory=list)  # (original, moved-to): neither exists
    folders_removed: int = 0


@dataclass(frozen=True)
class UndoFinished:
    summary: UndoSummary


class BadJournal(DovecoteError):
    pass


def read_journal(path: Path) -> tuple[dict, list[dict]]:
    """The header and entries of a move journal. A torn last line (a crash mid-write) is ignored: its
    move never started."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise BadJournal(f"{path} does not exist. Give the journal file that 'classify --sort move' printed.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BadJournal(f"Cannot read {path} ({error}).") from None
    entries = []
    for number, line in enumerate(lines):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines) - 1:
                break
            raise BadJournal(f"{path} is damaged at line {number + 1}; it is not a journal Dovecote can follow.") from None
    if not entries or not isinstance(entries[0], dict) or entries[0].get("kind") != JOURNAL_KIND:
        raise BadJournal(f"{path} is not a Dovecote move journal (made by 'classify --sort move').")
    return entries[0], entries[1:]


def undo_moves(path: Path) -> Iterator[object]:
    """Put every moved file back where it was, newest move first. Idempotent: a file already back is
    counted, not touched. A file never replaces one that now exists at the original place (a conflict,
    reported). Empty class folders the run created are removed. Yields Progress, then UndoFinished."""
    _, entries = read_journal(path)
    moves = [e for e in entries if e.get("op") == "move"]
    summary = UndoSummary()
    for done, entry in enumerate(reversed(moves), start=1):
        source, destination = Path(entry["src"]), Path(entry["dst"])
        if destination.exists() and source.exists():
            summary.conflicts.append((str(source), str(destination)))
        elif source.exists():
            summary.already_back += 1
        elif not destination.exists():
            summary.missing.append((str(source), str(destination)))
        else:
            source.parent.mkdir(parents=True, exist_ok=True)
            try:
                _move_exclusive(destination, source)
                summary.restored += 1
            except FileExistsError:
                summary.conflicts.append((str(source), str(destination)))
        if done % 100 == 0:
            yield Progress("Putting files back", done, len(moves), unit="files")
    yield Progress("Putting files back", len(moves), len(moves), unit="files")
    for entry in reversed([e for e in entries if e.get("op") == "mkdir"]):
        try:
            Path(entry["path"]).rmdir()  # only if empty: files someone put there since stay
            summary.folders_removed += 1
        except OSError:
            pass
    yield UndoFinished(summary)
