"""The predictions CSV of a batch classification, written as it goes so that a stopped run keeps its work.

Until a run completes, rows go to `<name>.partial.csv` beside the output: the name itself says the file is
incomplete. Completion renames it to the output (atomically). `resume` appends to what is there and
reports which paths are done."""
from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

from core.errors import DovecoteError
from core.storage.paths import escaped

FIXED_COLUMNS = ("path", "predicted", "confidence")
STATUS = "status"
OK = "ok"


class OutputExists(DovecoteError):
    pass


def partial_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.partial{output.suffix or '.csv'}")


def header(classes: list[str]) -> list[str]:
    """path, predicted, confidence, one probability column per class (named after it), status.
    A class that happens to be called like a fixed column gets " (probability)" appended."""
    fixed = {*FIXED_COLUMNS, STATUS}
    return [*FIXED_COLUMNS, *(f"{c} (probability)" if c in fixed else c for c in classes), STATUS]


class ResultsCsv:
    def __init__(self, output: Path, classes: list[str], overwrite: bool = False, resume: bool = False):
        """Refuses to replace an earlier result unless `overwrite`; `resume` continues it instead."""
        self.output = output
        self.partial = partial_path(output)
        self.columns = header(classes)
        self.done: set[str] = set()
        self.previous: Counter[str] = Counter()  # predicted class (or "unreadable") of the rows found
        self.check(output, overwrite, resume)
        if overwrite:
            self.partial.unlink(missing_ok=True)
        elif resume:
            self._adopt_earlier()
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            fresh = not self.partial.exists()
            self._file = open(self.partial, "a", encoding="utf-8", newline="")
        except OSError as error:
            raise DovecoteError(f"Cannot write {self.partial} ({error.strerror}). Choose another place with "
                                "--output FILE.") from None
        self._writer = csv.writer(self._file)
        if fresh:
            self._writer.writerow(self.columns)
            self.flush()

    @staticmethod
    def check(output: Path, overwrite: bool, resume: bool) -> None:
        """Raise OutputExists where writing would replace an earlier result the user did not give up."""
        if overwrite or resume:
            return
        if output.exists():
            raise OutputExists(f"{output} already exists. Add --overwrite to replace it, or --resume to add "
                               "only the images it does not list yet.")
        if partial_path(output).exists():
            raise OutputExists(f"A stopped run left {partial_path(output)}. Add --resume to finish it, or "
                               "--overwrite to start again.")

    def _adopt_earlier(self) -> None:
        if not self.partial.exists() and self.output.exists():
            os.replace(self.output, self.partial)  # adding rows makes it partial again until done
        if not self.partial.exists():
            return
        _drop_torn_last_line(self.partial)
        # surrogateescape: a CSV an older version wrote with raw bytes in a name still resumes
        with open(self.partial, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            reader = csv.reader(handle)
            if next(reader, None) != self.columns:
                raise OutputExists(f"{self.partial} was made with another model (its class columns differ). "
                                   "Use --overwrite to start again, or --output to write elsewhere.")
            status_at = len(self.columns) - 1
            for row in reader:
                if len(row) != len(self.columns):
                    continue
                self.done.add(escaped(row[0]))
                self.previous[row[1] if row[status_at] == OK else "unreadable"] += 1

    def write(self, path: str, status: str, predicted: str = "", confidence: float | None = None,
              probabilities=()) -> None:
        numbers = [f"{p:.6f}" for p in probabilities]
        if status != OK:
            numbers = [""] * (len(self.columns) - 4)
        # valid UTF-8 whatever the name: bytes that are not UTF-8 are written as \xNN
        self._writer.writerow([escaped(path), predicted, "" if confidence is None else f"{confidence:.6f}", *numbers, status])

    def flush(self) -> None:
        """Make the rows so far durable: a crash after this keeps them for --resume."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def finish(self) -> Path:
        """All rows are in: the partial file becomes the output."""
        self.flush()
        self._file.close()
        os.replace(self.partial, self.output)
        return self.output

    def close(self) -> None:
        """Stop without finishing: the rows so far stay in the partial file."""
        if not self._file.closed:
            self.flush()
            self._file.close()


def _drop_torn_last_line(path: Path) -> None:
    """A run killed mid-write can leave half a row; cut it so appended rows start on a line of their own."""
    with open(path, "rb+") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)
