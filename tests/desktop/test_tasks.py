"""The task runner's paths a user meets when things go wrong or are stopped: a job that refuses (a message)
or has a bug (one line and the traceback behind Details), a child process that dies, a cancel mid-job,
progress thinned to what a person can read, and closing a window while work runs."""
from __future__ import annotations

import logging
import sqlite3
import threading
import time

import pytest
from imagegen import class_folder

import taskjobs
from core.errors import DovecoteError
from core.events import Progress
from core.importing.scanning import import_folder
from core.project import Project
from core.storage import gallery, labels
from core.storage.database import DB_NAME
from desktop.project import import_controller
from desktop.tasks import TaskCrashed, TaskRunner
from desktop.widgets.error_dialog import describe_failure, show_failure

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def runner(qtbot):
    tasks = TaskRunner()
    yield tasks
    tasks.shutdown()


def run(qtbot, runner, function, *args, child=True, timeout=30_000):
    """(task, events received, outcome name) once the task is done."""
    task = runner.run("Test job", function, *args, child=child)
    events, outcome = [], []
    task.event.connect(events.append)
    task.succeeded.connect(lambda: outcome.append("succeeded"))
    task.cancelled.connect(lambda: outcome.append("cancelled"))
    task.failed.connect(lambda error: outcome.append("failed"))
    with qtbot.waitSignal(task.done, timeout=timeout):
        pass
    return task, events, outcome


@pytest.mark.parametrize("child", [True, False], ids=["child", "thread"])
def test_a_job_that_refuses_says_why_in_one_line(qtbot, runner, child):
    task, _events, outcome = run(qtbot, runner, taskjobs.refusing, "No labelled images yet.", child=child)
    assert outcome == ["failed"] and isinstance(task.error, DovecoteError)
    assert describe_failure(task.error) == ("No labelled images yet.", "")  # no Details: nothing to debug


def test_a_bug_in_a_child_shows_one_line_with_the_traceback_behind_details(qtbot, runner, caplog):
    caplog.set_level(logging.INFO)
    task, _events, outcome = run(qtbot, runner, taskjobs.buggy)
    assert outcome == ["failed"] and isinstance(task.error, TaskCrashed)
    message, details = describe_failure(task.error)
    assert "\n" not in message and "ZeroDivisionError" in message and "Traceback" not in message
    assert "Traceback" in details and "taskjobs.py" in details
    assert "about to fail" in caplog.text  # the child's own record reached this process's log
    assert "Traceback" in caplog.text  # and so did the traceback, for the bug report

    box = show_failure(None, "Training stopped", task.error)
    assert box.text() == message and box.detailedText() == details
    assert "dovecote.log" in box.informativeText()  # where to find it again
    box.close()


def test_a_bug_in_a_thread_job_is_reported_the_same_way(qtbot, runner):
    task, _events, outcome = run(qtbot, runner, taskjobs.buggy, child=False)
    assert outcome == ["failed"] and isinstance(task.error, ZeroDivisionError)
    message, details = describe_failure(task.error)
    assert message == "Something went wrong: division by zero in the job"
    assert "Traceback" in details and "raise ZeroDivisionError" in details


def test_a_child_that_dies_is_a_failure_not_a_hang(qtbot, runner):
    task, _events, outcome = run(qtbot, runner, taskjobs.dying)
    assert outcome == ["failed"] and isinstance(task.error, TaskCrashed)
    message, details = describe_failure(task.error)
    assert "stopped unexpectedly" in message and "exit code 3" in details
    assert not task.running


def test_a_quick_thread_job_loses_no_signal_and_its_slots_run_in_the_gui_thread(qtbot, runner):
    """A caller connects after run() returns; a thread job may be over by then (CI saw the first events lost)."""
    gui = threading.get_ident()
    for _ in range(20):
        task = runner.run("Quick", taskjobs.counting, 3, child=False)
        time.sleep(0.02)  # the job ends before anything is connected
        events, threads = [], set()
        task.event.connect(lambda event: (events.append(event.done), threads.add(threading.get_ident())))
        with qtbot.waitSignal(task.done, timeout=5_000):
            task.succeeded.connect(lambda: threads.add(threading.get_ident()))
        assert events[-1] == 3 and threads == {gui}


@pytest.mark.parametrize("child", [True, False], ids=["child", "thread"])
def test_cancel_mid_job_stops_it_and_says_cancelled(qtbot, runner, tmp_path, child):
    gate = tmp_path / "cancelled"
    task = runner.run("Counting", taskjobs.counting, 1000, str(gate), child=child)
    events, outcome = [], []
    task.event.connect(events.append)
    task.cancelled.connect(lambda: outcome.append("cancelled"))
    task.succeeded.connect(lambda: outcome.append("succeeded"))
    qtbot.waitUntil(lambda: bool(events), timeout=30_000)  # the job is past its first step
    task.cancel()
    gate.touch()
    with qtbot.waitSignal(task.done, timeout=30_000):
        pass
    assert outcome == ["cancelled"] and task.cancelling
    assert events[-1].done < 1000  # it did not run to its end


def test_progress_is_thinned_to_twenty_a_second_and_the_last_arrives(qtbot, runner):
    arrivals: list[float] = []
    task = runner.run("Counting", taskjobs.counting, 200_000)
    events: list[Progress] = []
    task.event.connect(lambda event: (events.append(event), arrivals.append(time.monotonic())))
    started = time.monotonic()
    with qtbot.waitSignal(task.done, timeout=60_000):
        pass
    elapsed = time.monotonic() - started
    assert events[-1] == Progress("Counting", 200_000, 200_000)  # the latest is always delivered
    assert 2 <= len(events) <= elapsed * 20 + 2  # not 200,000 repaints
    assert len(events) < 200_000 / 100


def test_shutdown_ends_a_job_that_ignores_cancel_within_five_seconds(qtbot, tmp_path):
    runner = TaskRunner()
    gate, marker = tmp_path / "running", tmp_path / "interrupted"
    task = runner.run("Stuck", taskjobs.stubborn, str(gate), str(marker))
    qtbot.waitUntil(gate.exists, timeout=30_000)
    started = time.monotonic()
    assert runner.shutdown() is False  # it had to be ended
    assert time.monotonic() - started < 5.5
    assert marker.read_text() == "interrupted"  # it was interrupted, so it could record its state
    assert not task.running


def test_the_status_bar_shows_each_task_with_cancel_where_it_can_stop(qtbot, window, tmp_path):
    gate = tmp_path / "go"
    task = window.context.tasks.run("Counting", taskjobs.counting, 10, str(gate))
    qtbot.waitUntil(lambda: "Counting" in window.status.task.text(), timeout=30_000)
    assert window.status.cancel.isVisibleTo(window)
    quiet = window.context.tasks.run("Labelling 5,000 images", taskjobs.counting, 10, str(gate), cancellable=False)
    qtbot.waitUntil(lambda: "Labelling" in window.status.task.text(), timeout=30_000)
    assert not window.status.cancel.isVisibleTo(window)  # a half-done write would be rolled back
    gate.touch()
    for each in (task, quiet):
        qtbot.waitUntil(lambda: not each.running, timeout=30_000)
    qtbot.waitUntil(lambda: not window.status.task.isVisibleTo(window), timeout=5_000)


@pytest.fixture
def labelled_project(tmp_path):
    """A project with 8 labelled images, and 120 new images in its folder that the next rescan imports."""
    root = class_folder(tmp_path / "photos", per_class=4)
    with Project.open(root) as project:
        for _ in import_folder(project, labels_from_subfolders=True):
            pass
    class_folder(root / "new", classes=("a", "b", "c"), per_class=40)
    return root


def store_state(root):
    with Project.open(root) as project:
        with project.session() as session:
            counts = gallery.counts(session)
            classes = {c.name: c.count for c in labels.list_classes(session)}
        check = sqlite3.connect(project.store_dir / DB_NAME).execute("PRAGMA integrity_check").fetchone()[0]
    return counts, classes, check


def test_closing_the_window_during_an_import_exits_in_seconds_and_keeps_the_store(
        qtbot, window, labelled_project, tmp_path, monkeypatch):
    from functools import partial

    # The import is held after its first committed chunk (and ignores cancel while held): the worst case.
    monkeypatch.setattr(import_controller, "import_folder",
                        partial(taskjobs.held_import, gate=str(tmp_path / "never")))
    assert window.opener.open(labelled_project)
    qtbot.waitUntil(lambda: "Importing: reading images" in window.status.task.text(), timeout=30_000)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 5.5
    assert not any(task.running for task in window.context.tasks.tasks)
    counts, classes, check = store_state(labelled_project)
    assert check == "ok"
    assert classes == {"cats": 4, "dogs": 4}  # the labels are still there
    assert counts.images > 8  # and the chunk committed before the close is kept


def test_closing_the_window_during_training_stores_the_run_as_cancelled(qtbot, window, tmp_path, open_folder):
    from colourproject import colour_images
    from core.models.heads import HeadConfig
    from core.storage import runs
    from core.training.runner import TrainConfig

    root = colour_images(tmp_path / "colours", per_class=8)
    open_folder(window, root, subfolders_as_classes=True)
    started = []
    window.training.run_started.connect(started.append)
    window.training.start(TrainConfig(head=HeadConfig(kind="mlp", max_epochs=100_000, patience=None), device="cpu"))
    qtbot.waitUntil(lambda: bool(started), timeout=120_000)  # the run is stored: now it is running
    closing = time.monotonic()
    window.close()
    assert time.monotonic() - closing < 5.5
    with Project.open(root) as project:
        with project.session() as session:
            assert runs.get_run(session, started[0]).status == "cancelled"
