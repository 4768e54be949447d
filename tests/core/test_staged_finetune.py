"""Fine-tuning on a CPU: the last blocks on cached activations of the frozen ones, planned to a time budget.
Tiny solid-colour projects at 32-64 px keep these fast."""
import re
import time
from dataclasses import replace

import numpy as np
import pytest

from core.events import Notice, Progress
from core.features.predictor import Predictor
from core.models.backbones import get_backbone, with_preprocessing
from core.models.bundles import ModelBundle, load_model
from core.models.heads import HeadConfig, HeadTrainer
from core.models.preprocessing import load_preprocessed
from core.storage import runs
from core.training.network_split import Cut
from core.training.runner import EpochEnded, FineTuneConfig, RunFinished, TrainConfig, train
from core.training.stage_plan import CutCost, choose
from core.training.mirror_check import mirror_averaging_pays
from core.training.staged_finetune import PREPARE_PHASE, StagedFineTuner
from imagegen import class_folder
from test_training import make_project

@pytest.fixture(autouse=True)
def speeds_left_as_found():
    """These runs remember their speeds in the session's cache folder; other tests expect first guesses."""
    from core.models.backbones import cache_dir
    from core.training.speeds import SPEEDS_FILE

    path = cache_dir() / SPEEDS_FILE
    before = path.read_bytes() if path.exists() else None
    yield
    if before is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(before)


QUICK = TrainConfig(head=HeadConfig(max_epochs=4, patience=None), device="cpu", input_size=64)


def finished(events) -> RunFinished:
    return [e for e in events if isinstance(e, RunFinished)][-1]


def pets(tmp_path, input_size: int):
    """A tiny two-class folder's files and tuner items, the backbone at input_size, and a head to start from."""
    root = class_folder(tmp_path / "pets", per_class=6, size=(24, 16))
    files = sorted(root.glob("*/*.png"))
    items = [(path, int(path.parent.name == "dogs"), f"hash-{path.parent.name}-{path.stem}") for path in files]
    base = get_backbone("efficientnet_lite0")
    spec = with_preprocessing(base, replace(base.preprocessing, input_size=input_size, resize=input_size))
    head = HeadTrainer(np.random.default_rng(0).normal(size=(8, spec.feature_dim)).astype(np.float32),
                       np.arange(8) % 2, 2, HeadConfig(hidden=16, max_epochs=1), 0)
    list(head.epochs())
    return files, items, spec, head.best_model()


def test_a_budgeted_run_ends_within_its_budget_and_says_what_it_planned(tmp_path):
    budget = 45.0  # a busy test machine takes seconds for what takes milliseconds
    config = replace(QUICK, fine_tune=FineTuneConfig(epochs=100_000, batch_size=4, time_budget_s=budget))
    with make_project(tmp_path / "pets") as project:
        started = time.perf_counter()
        events = list(train(project, config))
        wall = time.perf_counter() - started
    outcome = finished(events)
    plan = outcome.metrics["fine_tune_plan"]
    epochs = [e for e in events if isinstance(e, EpochEnded) and e.phase == "fine-tune"]
    # Where the time went, should this fail on a busy machine: the phases and what the run said.
    told = [e.message for e in events if isinstance(e, Notice)]
    assert outcome.status == "finished" and wall <= budget + 5.0, (outcome.metrics["phase_seconds"], told)
    assert 1 <= len(epochs) <= plan["epochs"] < 100_000  # the budget, not the epoch limit, decided
    assert outcome.metrics["phase_seconds"]["fine-tune"] >= 0.15 * budget  # and it used the time it had
    assert any(isinstance(e, Notice) and "planned to fit" in e.message for e in events)
    assert sum("re-planned" in message for message in told) <= 10  # told when it matters, not every epoch
    assert "fine_tune_gain" in outcome.metrics and outcome.metrics["time_budget_s"] == budget
    # The progress counts the whole phase, so one bar and one ETA cover all its epochs.
    steps = [e for e in events if isinstance(e, Progress) and e.phase == "Fine-tuning"]
    assert steps[-1].total == plan["epochs"] * outcome.metrics["train_images"]


def test_a_run_past_its_budget_leaves_the_int8_check_out_and_says_it_ran_over(tmp_path):
    config = replace(QUICK, fine_tune=FineTuneConfig(epochs=2, batch_size=4, time_budget_s=0.01))
    with make_project(tmp_path / "pets") as project:
        events = list(train(project, config))
        with project.session() as session:
            stored = runs.list_runs(session)[0].metrics
    outcome = finished(events)
    told = " ".join(e.message for e in events if isinstance(e, Notice))
    assert outcome.status == "finished" and outcome.model_path is not None
    assert "int8 check was left out to keep within the time budget" in told and "int8" not in stored
    assert "over its time budget" in told
    assert stored["oof"]["images"] == 12  # the honest figures are never left out


def test_cached_activations_are_reused_by_the_next_run(tmp_path):
    config = replace(QUICK, fine_tune=FineTuneConfig(epochs=2, batch_size=4))
    with make_project(tmp_path / "pets") as project:
        first = list(train(project, config))
        again = list(train(project, replace(config, head=HeadConfig(max_epochs=3, patience=None))))
    def computed(events):
        return sum(e.done for e in events if isinstance(e, Progress) and e.phase == PREPARE_PHASE
                   and e.total and e.done == e.total)
    plan = finished(first).metrics["fine_tune_plan"]
    # The validation images twice: plain, and mirrored (to decide whether classifying averages the two).
    assert computed(first) == plan["views"] * finished(first).metrics["train_images"] + \
        2 * finished(first).metrics["val_images"]
    assert computed(again) == 0 and finished(again).status == "finished"


def test_cancel_while_caching_keeps_the_head_and_a_loadable_model(tmp_path):
    config = replace(QUICK, fine_tune=FineTuneConfig(epochs=2, batch_size=4))
    with make_project(tmp_path / "pets", per_class=40) as project:
        events = train(project, config)
        for event in events:
            if isinstance(event, Progress) and event.phase == PREPARE_PHASE and event.done:
                break
        events.close()
        with project.session() as session:
            run = runs.list_runs(session)[0]
    assert run.status == "cancelled" and not run.metrics["fine_tuned"]
    bundle = load_model(project.root / ".dovecote" / run.model_path)
    assert Predictor(bundle, "cpu").predict(np.zeros((1, 3, 64, 64), np.float32)).shape == (1, 2)


def test_the_bundle_predicts_what_the_trained_split_network_computes(tmp_path):
    import torch

    from core.models.backbone_nets import build_feature_extractor
    from core.training.network_split import Prefix, Suffix, layout

    files, items, spec, head = pets(tmp_path, 64)
    tuner = StagedFineTuner(spec, head, items[1:-1], items[:1] + items[-1:], 2,
                            FineTuneConfig(epochs=2, batch_size=4, lr=1e-2), seed=0, store_dir=tmp_path / "store")
    assert [e.epoch for e in tuner.epochs() if isinstance(e, EpochEnded)] == [1, 2]
    backbone, tuned_head = tuner.best()
    pretrained = build_feature_extractor(spec).state_dict()
    cut = tuner.plan.cut
    changed = {k for k, v in backbone.items() if not np.allclose(v, pretrained[k].numpy())}
    assert changed and all(int(k.split(".")[1]) >= cut.block for k in changed)  # the frozen blocks stayed put

    bundle = ModelBundle(["cats", "dogs"], spec.name, spec.preprocessing, tuned_head, backbone,
                         metadata={"fine_tuned": True})
    bundle.save(tmp_path / "tuned.safetensors")
    loaded = load_model(tmp_path / "tuned.safetensors")
    images = np.stack([load_preprocessed(path, spec.preprocessing)[0] for path in files])
    from_bundle = Predictor(loaded, "cpu").predict(images)

    extractor = build_feature_extractor(spec)
    extractor.load_state_dict({k: torch.from_numpy(v) for k, v in backbone.items()})
    suffix = Suffix(extractor, cut, layout(extractor, 64).shapes[cut])
    with torch.no_grad():
        rows = Prefix(extractor, cut)(torch.from_numpy(images)).half().float()  # as the cache holds them
        trained = torch.softmax(tuned_head.to_module()(suffix(rows)), 1).numpy()
    assert np.abs(from_bundle - trained).max() < 1e-2


def test_the_plan_trains_deeper_when_the_budget_allows_and_keeps_the_cache_under_its_cap():
    costs = [CutCost(Cut(8), 1, 0.001, 0.01, 1000), CutCost(Cut(7), 2, 0.004, 0.008, 2000),
             CutCost(Cut(6), 6, 0.05, 0.005, 4000)]  # shallowest (cheapest step) first
    tight = choose(costs, 16, n_train=1000, n_val=200, max_epochs=50, available_s=40, cap_bytes=10**9)
    loose = choose(costs, 16, n_train=1000, n_val=200, max_epochs=50, available_s=600, cap_bytes=10**9)
    assert tight.cut == Cut(7) and loose.cut == Cut(6)
    for plan in (tight, loose):
        assert plan.seconds <= plan.budget_s and 1 <= plan.views <= plan.epochs
    capped = choose(costs, 16, 1000, 200, 50, 600, cap_bytes=3 * 1000 * 8000)
    assert capped.cache_bytes <= 3 * 1000 * 8000 and capped.views < loose.views
    assert choose(costs, 16, 1000, 200, 50, available_s=0.5, cap_bytes=10**9) is None
    unbudgeted = choose(costs, 16, 1000, 200, max_epochs=4, available_s=None, cap_bytes=10**9)
    assert unbudgeted.cut == Cut(6) and unbudgeted.epochs == 4 and unbudgeted.views == 4


def test_without_augmentation_one_view_is_cached(tmp_path):
    config = replace(QUICK, fine_tune=FineTuneConfig(epochs=3, batch_size=4, augment=False))
    with make_project(tmp_path / "pets") as project:
        outcome = finished(train(project, config))
    assert outcome.metrics["fine_tune_plan"]["views"] == 1


class SlowClock:
    """Real time plus the seconds that slow steps have added: planning measures the real (fast) steps, the
    epochs then take far longer, as on a computer that got busy after the plan was made."""

    def __init__(self):
        self.added = 0.0

    def __call__(self) -> float:
        return time.perf_counter() + self.added


def test_epochs_slower_than_planned_shrink_the_plan_and_the_run_still_ends_within_its_budget(tmp_path):
    clock = SlowClock()

    class SlowSteps(StagedFineTuner):
        def _step(self, *args):
            clock.added += 10.0  # each training step takes 10 s longer than the plan measured
            return super()._step(*args)

    _, items, spec, head = pets(tmp_path, 32)
    budget = 240.0  # seconds of the fake clock: the real time a busy test machine takes counts too
    deadline = clock() + budget
    tuner = SlowSteps(spec, head, items[2:], items[:2], 2, FineTuneConfig(epochs=500, batch_size=4),
                      seed=0, store_dir=tmp_path / "store", deadline=deadline, clock=clock)
    events = list(tuner.epochs())
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    plan = tuner.plan
    assert plan.first_epochs is not None and plan.epochs < plan.first_epochs  # the fast steps planned more
    assert len(epochs) == plan.epochs_run == plan.epochs >= 2  # the shrunk plan ran to its end
    assert clock() <= deadline  # ... within the budget: 3 steps of 10 s an epoch
    told = [int(re.search(r": (\d+) epochs fit", e.message).group(1)) for e in events
            if isinstance(e, Notice) and "re-planned" in e.message]
    assert told and abs(told[-1] - plan.epochs) <= max(1, 0.1 * told[-1])  # what it said is what it ran
    assert not any(isinstance(e, Notice) and "stopped during epoch" in e.message for e in events)


def halves_project(root, per_class=8):
    """Two classes whose mirror images are each other: a bright left half, a bright right half."""
    from PIL import Image

    from core.importing.scanning import import_folder
    from core.project import Project

    for c, name in enumerate(("left", "right")):
        for i in range(per_class):
            pixels = np.full((16, 24, 3), 40 + 3 * i, np.uint8)
            bright = slice(0, 12) if c == 0 else slice(12, 24)
            pixels[:, bright] = 220 - 3 * i
            (root / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    project = Project.open(root)
    for _ in import_folder(project, labels_from_subfolders=True):
        pass
    return project


def test_validation_refuses_mirror_averaging_where_the_mirror_image_is_another_class(tmp_path):
    config = replace(QUICK, fine_tune=FineTuneConfig(epochs=2, batch_size=4))
    with halves_project(tmp_path / "sides") as project:
        outcome = finished(train(project, config))
    check = outcome.metrics["test_time_flip"]
    assert not check["chosen"] and check["val_acc_with_flip"] <= check["val_acc"]
    assert not load_model(outcome.model_path).flip_average


@pytest.mark.parametrize("both_acc, both_loss, chosen", [
    (0.930, 0.219, True),   # a tie in accuracy, a lower loss: the animal silhouettes' benchmark case
    (0.945, 0.230, True),   # better on both
    (0.940, 0.250, False),  # more accurate but less sure of the right class
    (0.925, 0.200, False),  # surer, but wrong more often
    (0.930, 0.240, False),  # no better at all: not worth twice the work
])
def test_mirror_averaging_is_chosen_for_a_lower_validation_loss_at_no_lower_accuracy(both_acc, both_loss, chosen):
    assert mirror_averaging_pays(0.930, 0.240, both_acc, both_loss) is chosen


# A head held back by a huge L2 penalty, which fine-tuning soon beats: the fine-tuned model is kept.
KEPT = replace(QUICK, head=HeadConfig(l2=1e4), fine_tune=FineTuneConfig(epochs=2, batch_size=4, head_lr=1e-3))


def choose_mirror_averaging(monkeypatch) -> None:
    """Fine-tuning's validation finds that averaging with the mirror image pays."""
    def choose(self, model, suffix, val_rows, val_mirrored):
        self.flip_check = {"val_acc": 0.5, "val_acc_with_flip": 0.75, "val_loss": 0.7, "val_loss_with_flip": 0.6,
                           "chosen": True}

    monkeypatch.setattr(StagedFineTuner, "_choose_test_time_flip", choose)


def test_a_mirror_averaging_choice_reaches_the_saved_model(tmp_path, monkeypatch):
    choose_mirror_averaging(monkeypatch)
    with make_project(tmp_path / "pets") as project:
        events = list(train(project, KEPT))
    outcome = finished(events)
    bundle = load_model(outcome.model_path)
    assert outcome.metrics["fine_tuned"] and bundle.fine_tuned and bundle.flip_average
    assert any(isinstance(e, Notice) and "classified with its mirror image" in e.message for e in events)
    images = np.zeros((2, 3, 64, 64), np.float32)
    images[0, 0, :, :32] = images[1, 1, :, 32:] = 1.0  # one half red or green: the mirror image differs
    plain = replace(bundle, metadata={**bundle.metadata, "test_time_flip": False})
    one, mirrored = (Predictor(plain, "cpu").predict(b) for b in (images, np.ascontiguousarray(images[..., ::-1])))
    assert not np.allclose(one, mirrored, atol=1e-3)
    assert np.allclose(Predictor(bundle, "cpu").predict(images), (one + mirrored) / 2, atol=1e-4)


def test_without_flips_no_mirror_image_is_cached_or_tried(tmp_path):
    config = replace(QUICK, fine_tune=FineTuneConfig(epochs=1, batch_size=4, flip=False))
    with make_project(tmp_path / "pets") as project:
        events = list(train(project, config))
    outcome = finished(events)
    assert "test_time_flip" not in outcome.metrics and not load_model(outcome.model_path).flip_average
    computed = max(e.total for e in events if isinstance(e, Progress) and e.phase == PREPARE_PHASE and e.total)
    assert computed == outcome.metrics["fine_tune_plan"]["views"] * outcome.metrics["train_images"] + \
        outcome.metrics["val_images"]


def test_without_a_learning_rate_the_trained_blocks_move_further_than_at_the_whole_networks_rate(tmp_path):
    """The last blocks, trained for a few epochs, need a higher rate than the whole network's: at 1e-4 they
    barely left the pretrained weights (benchmarks/bench_finetune_lr.py)."""
    from core.models.backbone_nets import build_feature_extractor
    from core.training.finetune import WHOLE_NETWORK_LR

    _, items, spec, head = pets(tmp_path, 64)
    pretrained = {k: v.numpy() for k, v in build_feature_extractor(spec).state_dict().items()}

    def largest_change(lr):
        config = FineTuneConfig(epochs=1, batch_size=4, lr=lr, augment=False, unfreeze_blocks=2)
        tuner = StagedFineTuner(spec, head, items[1:-1], items[:1] + items[-1:], 2, config,
                                seed=0, store_dir=tmp_path / "store", dropout=0.0)
        list(tuner.epochs())
        return max(float(np.abs(v - pretrained[k]).max()) for k, v in tuner.best()[0].items()
                   if np.issubdtype(v.dtype, np.floating))

    assert FineTuneConfig().lr is None
    assert largest_change(None) > 5 * largest_change(WHOLE_NETWORK_LR)
