"""Runs a core generator in a child process and yields its events here, for GeneratorWorker.

Why: Python threads share one interpreter lock. An import keeps several threads busy hashing, decoding
and writing the store; the GUI thread then waits for the lock before each of the many small Python calls
a repaint makes, and the window stutters for hundreds of milliseconds. In a child process the work has
its own interpreter, and the worker thread here only waits on a pipe (which releases the lock).

Cancelling stays cooperative: closing the generator here sets an event the child checks between events;
the child then closes its own generator (which records its state) and exits. Nothing is killed.
This module must not import Qt: the child process imports it."""
from __future__ import annotations

import importlib
import multiprocessing
import os
import traceback
from dataclasses import dataclass
from typing import Iterator

from core.errors import DovecoteError

_EVENT, _DONE, _ERROR, _CRASH = "event", "done", "error", "crash"
JOIN_TIMEOUT_S = 120
CHILD_NICENESS = 5


def run_in_child(target: str, *args) -> Iterator[object]:
    """Yield the events of generator function `target` ("package.module:function") called with `args` in a
    child process. Events and args must be picklable (frozen dataclasses, paths, numbers, strings).
    A DovecoteError in the child is raised here with the same message."""
    context = multiprocessing.get_context("spawn")  # no fork: the GUI process has threads and Qt state
    receiver, sender = context.Pipe(duplex=False)
    cancel = context.Event()
    process = context.Process(target=_child, args=(target, args, sender, cancel), daemon=True,
                              name=f"dovecote-{target.rsplit(':', 1)[-1]}")
    process.start()
    sender.close()  # the child holds the only writing end: EOF here means it has gone
    finished = False
    try:
        while True:
            try:
                kind, payload = receiver.recv()
            except EOFError:
                raise DovecoteError("The background task stopped unexpectedly. Try again; "
                                    "if it keeps happening, run the same command in a terminal.") from None
            if kind == _EVENT:
                yield payload
            elif kind == _DONE:
                finished = True
                return
            elif kind == _ERROR:
                finished = True
                raise DovecoteError(payload)
            else:
                finished = True
                raise RuntimeError(f"the background task failed:\n{payload}")
    finally:
        if not finished:
            cancel.set()
            _drain(receiver)
        receiver.close()
        process.join(JOIN_TIMEOUT_S)


def _drain(receiver) -> None:
    """Read until the child says it is done (it may be committing its last chunk)."""
    try:
        while receiver.recv()[0] == _EVENT:
            pass
    except (EOFError, OSError):
        pass


def _child(target: str, args: tuple, sender, cancel) -> None:
    module_name, function_name = target.split(":")
    if hasattr(os, "nice"):
        os.nice(CHILD_NICENESS)  # background work yields the CPU to the window on a busy machine
    try:
        generator = getattr(importlib.import_module(module_name), function_name)(*args)
        try:
            for event in generator:
                if cancel.is_set():
                    break
                sender.send((_EVENT, event))
        finally:
            generator.close()
        _send(sender, (_DONE, None))
    except DovecoteError as error:
        _send(sender, (_ERROR, str(error)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which shows it
        _send(sender, (_CRASH, traceback.format_exc()))
    finally:
        sender.close()


def _send(sender, message: tuple) -> None:
    try:
        sender.send(message)
    except OSError:
        pass  # the parent has gone: nobody is left to tell


@dataclass(frozen=True)
class StoreActionDone:
    result: object  # what the store function returned (a batch id, a labels.UndoStep, ...)


def store_action(root: str, store: str, function: str, args: tuple) -> Iterator[object]:
    """One store function (`package.module:name`, called as name(session, *args)) in one committed
    session, for run_in_child: large label changes that would hold the interpreter lock for seconds."""
    from core.project import Project

    module_name, name = function.split(":")
    action = getattr(importlib.import_module(module_name), name)
    with Project.open(root, store) as project:
        with project.session() as session:
            result = action(session, *args)
    yield StoreActionDone(result)


def import_project(root: str, store: str, labels_from_subfolders: bool) -> Iterator[object]:
    """The import of one project, for run_in_child: it opens its own connection to the store."""
    from core.project import Project
    from core.importing.scanning import import_folder

    with Project.open(root, store) as project:
        yield from import_folder(project, labels_from_subfolders)
