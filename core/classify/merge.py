"""Joining the results CSVs of `classify --shard K/N` runs into one, as if a single run had made it."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from core.atomic import atomic_path
from core.errors import DovecoteError, InvalidRequest
from core.classify.results_csv import OutputExists, partial_path


@dataclass(frozen=True)
class MergeSummary:
    output: Path
    rows: int
    parts: int
    duplicates: int  # rows found identical in two parts (the same part given twice), written once


def merge_results(output: Path, parts: list[Path], overwrite: bool = False) -> MergeSummary:
    """Every row of every part, in the order given, each path once. Refuses parts that are unfinished, made
    with another model (other columns), or that disagree about a file, before writing anything."""
    output = Path(output).expanduser().resolve()
    parts = [Path(part).expanduser().resolve() for part in parts]
    if not parts:
        raise InvalidRequest("Give the part CSVs to join, e.g. dovecote merge-results all.csv part-*.csv")
    if output in parts:
        raise InvalidRequest(f"{output} is one of the parts; write the joined CSV to a file of its own.")
    if output.exists() and not overwrite:
        raise OutputExists(f"{output} already exists. Add --overwrite to replace it.")
    columns, rows, where = None, {}, {}
    duplicates = 0
    for part in parts:
        part_columns, part_rows = _read(part)
        if columns is None:
            columns = part_columns
        elif part_columns != columns:
            raise InvalidRequest(f"{part} has other columns than {parts[0]} (another model's classes): "
                                 "only parts of the same classification can be joined.")
        for row in part_rows:
            earlier = rows.get(row[0])
            if earlier is None:
                rows[row[0]], where[row[0]] = row, part
            elif earlier == row:
                duplicates += 1
            else:
                raise InvalidRequest(f"{row[0]} is in both {where[row[0]]} and {part} with different results; "
                                     "were the parts made with the same model?")
    with atomic_path(output, durable=True) as temporary, open(temporary, "w", encoding="utf-8",
                                                              errors="surrogateescape", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows.values())
    return MergeSummary(output, len(rows), len(parts), duplicates)


def _read(part: Path) -> tuple[list[str], list[list[str]]]:
    if not part.is_file():
        if partial_path(part).exists():
            raise DovecoteError(f"{part} is not finished: its run stopped, leaving {partial_path(part)}. Finish it "
                                "with the same classify command and --resume, then join again.")
        raise DovecoteError(f"{part} does not exist.")
    try:
        with open(part, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            reader = csv.reader(handle)
            columns = next(reader, None)
            if not columns or columns[0] != "path" or columns[-1] != "status":
                raise InvalidRequest(f"{part} is not a Dovecote results CSV (its first line is not the header "
                                     "classify writes).")
            rows = [row for row in reader if len(row) == len(columns)]
    except OSError as error:
        raise DovecoteError(f"Cannot read {part} ({error.strerror or error}).") from None
    return columns, rows
