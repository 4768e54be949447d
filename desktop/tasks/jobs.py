"""Job functions for child processes: a Project cannot cross a process boundary, so a job names the
project by its folders and opens its own connection to the store there."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from core.project import Project
from core.storage.summary import read_summary


def in_project(root: str, store: str, function: Callable[..., Iterator[object]], *args) -> Iterator[object]:
    """The events of function(project, *args), with the project opened in this process."""
    with Project.open(root, store) as project:
        yield from function(project, *args)


def in_project_summarised(root: str, store: str, function: Callable[..., Iterator[object]], *args) -> Iterator[object]:
    """in_project's events, then the StoreSummary the job left (read here, on the connection that wrote: see
    core/storage/summary.py); none when it was stopped."""
    with Project.open(root, store) as project:
        yield from function(project, *args)
        with project.session() as session:
            yield read_summary(session)


@dataclass(frozen=True)
class StoreActionDone:
    result: object  # what the store function returned (a batch id, a labels.UndoStep, ...)


def store_action(root: str, store: str, function: Callable[..., object], *args) -> Iterator[object]:
    """function(session, *args) in one committed session; yields StoreActionDone with its result."""
    with Project.open(root, store) as project:
        with project.session() as session:
            result = function(session, *args)
    yield StoreActionDone(result)
