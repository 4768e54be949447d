"""Child jobs run in worker processes that live on between jobs (so that a retrain starts at once, not after
seconds of starting Python and importing torch), with the same outcomes as a process per job: a job that
kills its process is reported and the next one gets a fresh process; a cancelled job leaves its worker
ready for the next; two jobs at once run side by side."""
from __future__ import annotations

import pytest

import taskjobs
from desktop.tasks import TaskCrashed, TaskRunner
from desktop.tasks.pool import MAX_WORKERS

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def runner(qtbot):
    tasks = TaskRunner()
    yield tasks
    tasks.shutdown()


def watch(task):
    """(events, outcome) lists the task fills as its signals arrive; outcome's last entry is "done"."""
    events, outcome = [], []
    task.event.connect(events.append)
    task.succeeded.connect(lambda: outcome.append("succeeded"))
    task.cancelled.connect(lambda: outcome.append("cancelled"))
    task.failed.connect(lambda error: outcome.append("failed"))
    task.done.connect(lambda: outcome.append("done"))
    return events, outcome


def finish(qtbot, task, timeout=60_000):
    """The task's events and outcome once it is done (its signals come from the event loop: connecting right
    after run() misses none)."""
    events, outcome = watch(task)
    qtbot.waitUntil(lambda: outcome[-1:] == ["done"], timeout=timeout)
    return events, outcome[:-1]


def test_two_jobs_one_after_another_run_in_the_same_process(qtbot, runner):
    first, outcome = finish(qtbot, runner.run("First", taskjobs.whoami))
    second, again = finish(qtbot, runner.run("Second", taskjobs.whoami))
    assert outcome == again == ["succeeded"]
    assert first[0][0] == second[0][0]  # the second job did not wait for a new interpreter


def test_a_job_that_kills_its_process_is_reported_and_the_next_job_still_runs(qtbot, runner):
    before, _ = finish(qtbot, runner.run("Before", taskjobs.whoami))
    dying = runner.run("Dying", taskjobs.dying)
    _, outcome = finish(qtbot, dying)
    assert outcome == ["failed"] and isinstance(dying.error, TaskCrashed)
    assert "exit code 3" in dying.error.details
    assert dying.pid == before[0][0]  # it died in the warm worker
    after, again = finish(qtbot, runner.run("After", taskjobs.whoami))
    assert again == ["succeeded"] and after[0][0] != before[0][0]  # in a fresh process


def test_cancel_mid_job_then_the_next_job_runs_in_the_same_worker(qtbot, runner, tmp_path):
    gate = tmp_path / "cancelled"
    task = runner.run("Counting", taskjobs.counting, 1000, str(gate))
    events, outcome = [], []
    task.event.connect(events.append)
    task.cancelled.connect(lambda: outcome.append("cancelled"))
    qtbot.waitUntil(lambda: bool(events), timeout=30_000)
    task.cancel()
    gate.touch()
    with qtbot.waitSignal(task.done, timeout=30_000):
        pass
    assert outcome == ["cancelled"] and events[-1].done < 1000
    after, again = finish(qtbot, runner.run("After", taskjobs.counting, 5))
    assert again == ["succeeded"] and after[-1].done == 5  # the old job's cancel did not stop this one
    assert runner.workers.idle_pids == [task.pid]


def test_an_interrupted_worker_is_not_given_another_job(qtbot, runner, tmp_path):
    gate, marker = tmp_path / "running", tmp_path / "interrupted"
    task = runner.run("Stuck", taskjobs.stubborn, str(gate), str(marker))
    qtbot.waitUntil(gate.exists, timeout=30_000)
    task.cancel()
    task.interrupt()
    _, outcome = finish(qtbot, task)
    assert outcome == ["cancelled"] and marker.read_text() == "interrupted"
    after, again = finish(qtbot, runner.run("After", taskjobs.whoami))
    assert again == ["succeeded"] and after[0][0] != task.pid


def test_jobs_at_the_same_time_run_side_by_side_and_only_a_few_workers_are_kept(qtbot, runner, tmp_path):
    gate = tmp_path / "go"
    tasks = [runner.run(f"Job {n}", taskjobs.whoami, str(gate)) for n in range(MAX_WORKERS + 1)]
    watched = [watch(task) for task in tasks]
    qtbot.waitUntil(lambda: all(events for events, _ in watched), timeout=60_000)  # all running at once
    assert len({events[0][0] for events, _ in watched}) == len(tasks)
    gate.touch()
    qtbot.waitUntil(lambda: all(outcome == ["succeeded", "done"] for _, outcome in watched), timeout=60_000)
    assert len(runner.workers.idle_pids) == MAX_WORKERS


def test_a_prewarmed_worker_has_torch_imported_before_the_job_starts(qtbot, runner):
    runner.prewarm()
    qtbot.waitUntil(lambda: runner.workers.ready_count() == 1, timeout=90_000)
    events, outcome = finish(qtbot, runner.run("Training", taskjobs.whoami))
    assert outcome == ["succeeded"]
    pid, torch_loaded = events[0]
    assert torch_loaded and pid in runner.workers.idle_pids


def test_the_window_starts_a_warm_worker_soon_after_it_opens(qtbot, monkeypatch):
    from desktop.project import training
    from desktop.window.main_window import MainWindow

    monkeypatch.setattr(training, "PREWARM_AFTER_MS", 10)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: len(window.context.tasks.workers.idle_pids) == 1, timeout=10_000)
    window.close()
    assert window.context.tasks.workers.idle_pids == []  # closing the window stops it
