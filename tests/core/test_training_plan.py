"""What the Train view relies on in core: one run per project at a time, the readiness rules, the plan and
its ETA, speeds remembered between runs, and runs named, noted and deleted."""
from dataclasses import replace

import pytest

from core.events import Progress
from core.models.bundles import load_model
from core.models.heads import EpochEnded, HeadConfig
from core.project import Project
from core.importing.scanning import import_folder
from core.storage import runs
from core.training import speeds
from core.training.eta import EtaTracker
from core.training.estimate import estimate_run
from core.training.lock import AlreadyTraining, TrainingLock, holder
from core.training.int8_check import Int8Checked
from core.training.plan import EVALUATE, FEATURES, FINE_TUNE, HEAD, INT8, PhaseStarted, TrainingPlan
from core.training.readiness import readiness
from core.training.run_files import delete_run, export_run
from core.training.runner import FineTuneConfig, RunFinished, TrainConfig, train
from imagegen import class_folder

QUICK = TrainConfig(head=HeadConfig(kind="mlp", max_epochs=4, patience=None), device="cpu", input_size=64, int8=False)


@pytest.fixture
def project(tmp_path):
    class_folder(tmp_path / "pets", per_class=6, size=(24, 16))
    with Project.open(tmp_path / "pets") as opened:
        for _ in import_folder(opened, labels_from_subfolders=True):
            pass
        yield opened


def test_a_second_process_gets_already_training_and_a_crash_leaves_no_lock(project):
    held = TrainingLock(project.store_dir, "the window").acquire()
    held.describe(3)
    assert holder(project.store_dir).message().startswith(
        "This project is already training (run 3, started from the window)")
    with pytest.raises(AlreadyTraining, match="already training"):
        next(train(project, QUICK))
    with project.session() as session:
        assert runs.list_runs(session) == []  # refused before a run was stored
    held.release()  # what the operating system does when the holder's process dies, however it dies
    assert holder(project.store_dir) is None
    assert [e for e in train(project, QUICK) if isinstance(e, RunFinished)][0].status == "finished"
    assert holder(project.store_dir) is None


def test_readiness_blocks_and_warns_in_words():
    assert "at least 2 classes; this project has 1" in readiness({"cats": 30, "dogs": 0}).blocked
    assert "'dogs' (3)" in readiness({"cats": 30, "dogs": 3}).blocked
    fine = readiness({"cats": 300, "dogs": 25})
    assert fine.blocked is None and "very unequal" in fine.warnings[0]
    assert readiness({"cats": 30, "dogs": 30}).warnings == ()
    assert "Few images in 'dogs' (8)" in readiness({"cats": 30, "dogs": 8}).warnings[0]


def test_the_run_yields_its_plan_and_phases_and_the_estimate_matches_it(project, monkeypatch, tmp_path):
    monkeypatch.setattr(speeds, "SPEEDS_FILE", "speeds-of-this-test.json")  # nothing measured yet, whatever ran before
    config = replace(QUICK, fine_tune=FineTuneConfig(epochs=1, augment=False), int8=True)
    before = next(estimate_run(project, config, "cpu"))
    assert [p.key for p in before.phases] == [FEATURES, HEAD, FINE_TUNE, EVALUATE, INT8]
    assert before.images == 12 and before.cached == 0 and not before.measured and before.seconds > 0
    events = list(train(project, config))
    plan = next(e for e in events if isinstance(e, TrainingPlan))
    assert plan.phases == before.phases
    assert [e.key for e in events if isinstance(e, PhaseStarted)] == [FEATURES, HEAD, FINE_TUNE, EVALUATE, INT8]
    checked = next(e for e in events if isinstance(e, Int8Checked))  # a fine-tuned backbone gets its own int8
    assert "of 12 labelled images" in checked.note and load_model(project.root, checked.run_id).metadata["int8"]
    # The speeds this run measured now make the estimate; the features are cached.
    again = next(estimate_run(project, config, "cpu"))
    assert again.cached == 12 and again.phase(FEATURES).seconds == 0
    assert speeds.speed("head", "efficientnet_lite0", 64, "cpu").measured


def test_eta_follows_the_plan_then_the_measured_pace():
    from core.training.plan import PhasePlan

    plan = TrainingPlan((PhasePlan(FEATURES, "features", 100, 10.0), PhasePlan(HEAD, "head", 50, 2.0, 50),
                         PhasePlan(EVALUATE, "evaluate", 5, 3.0)), 100, 2, 0, "cpu", True)
    eta = EtaTracker(plan, now=0.0)
    assert eta.total_left(0.0) == pytest.approx(15.0)
    eta.update(PhaseStarted(FEATURES, "features"), 0.0)
    eta.update(Progress("Computing embeddings", 10, 100), 0.1)
    eta.update(Progress("Computing embeddings", 50, 100), 10.0)  # twice as slow as planned
    assert eta.fraction == 0.5 and eta.phase_left(10.0) == pytest.approx(10.0)
    eta.update(PhaseStarted(HEAD, "head"), 20.0)
    assert eta.factor == pytest.approx(2.0)  # what is left is scaled by how this computer runs today
    eta.update(EpochEnded(HEAD, 10, 0.5, 0.8, 0.6, 0.7, 1000.0, eta_s=1.5), 20.5)
    assert eta.phase_left(20.5) == 1.5 and eta.total_left(20.5) == pytest.approx(1.5 + 6.0)


def test_runs_are_named_noted_exported_and_deleted(project, tmp_path):
    finished = [e for e in train(project, QUICK) if isinstance(e, RunFinished)][0]
    with project.session() as session:
        before = runs.signature(session)
        runs.set_name(session, finished.run_id, "  baseline ", "first try\nred vs blue")
    with project.session() as session:
        run = runs.get_run(session, finished.run_id)
        assert (run.title, run.note) == ("baseline", "first try\nred vs blue")
    out = tmp_path / "model.safetensors"
    assert list(export_run(project, run.id, "bundle", str(out)))[-1].path == out and out.stat().st_size > 0
    delete_run(project, run.id)
    with project.session() as session:
        assert runs.list_runs(session) == [] and runs.signature(session) != before
    assert not finished.model_path.exists()
