"""Finding flipped labels after fine-tuning: out-of-fold heads on the pretrained network's embeddings (what a
fine-tuned run's evaluation uses, core.evaluation.run_evaluation), on the fine-tuned network's, and their
calibrated probabilities mixed. The question: the fine-tuned network is far more accurate, but it learned
from every label, flipped ones included, so heads on its features may agree with some flipped labels.

Per draw: 5 % of the training images of --data (benchmarks/finetune_data.py; `animals*` need `pip install
--no-deps animal-mnist`) relabelled to another class before a `train --fine-tune --time-budget B` run from an
empty store; then, on each network's embeddings of the labelled images, the out-of-fold pass of
benchmarks/bench_label_errors.py (L2 chosen on a validation split, 5 folds), temperature-scaled, and
Dovecote's list (core.evaluation.label_errors); and the list the run's own evaluation stored (since
December 2026 the pretrained network's mixed with FINE_TUNED_SHARE of the fine-tuned one's). recall@k: the
share of the flipped among the first k suspects, k = the number flipped; precision: the share of the whole
list that is truly flipped. The pretrained network's line is the baseline: the list until then.

    python benchmarks/bench_mistakes_finetuned.py [--data animals-mixed] [--budget 150] [--draws 3]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_label_errors import oof, scores  # noqa: E402 (puts the repository on the path)
from bench_training import run_training  # noqa: E402
from core.evaluation.calibration import fit_temperature, scaled  # noqa: E402
from core.evaluation.label_errors import find_label_errors  # noqa: E402
from core.evaluation.run_evaluation import load_evaluation  # noqa: E402
from core.features.cache import EmbeddingsReady, ensure_embeddings, load_embeddings  # noqa: E402
from core.importing.scanning import import_folder  # noqa: E402
from core.models.backbones import get_backbone, with_preprocessing  # noqa: E402
from core.project import Project  # noqa: E402
from core.storage import catalog, labels, runs  # noqa: E402
from core.training.network import network_of_run  # noqa: E402
from core.training.runner import FineTuneConfig, TrainConfig  # noqa: E402
from finetune_data import DATA, finetune_data  # noqa: E402

FINE_TUNED_WEIGHTS = (0.25, 0.5)  # of the fine-tuned network's probabilities, in the mixes


def flip_labels(project: Project, share: float, seed: int) -> set[int]:
    """Relabel `share` of the labelled images to another class, at random; the ids of those images."""
    rng = np.random.default_rng(seed)
    with project.session() as session:
        images = catalog.labelled_images(session)
        class_ids = [c.id for c in labels.list_classes(session)]
        flipped = set()
        for k in rng.choice(len(images), int(share * len(images)), replace=False):
            image = images[k]
            labels.set_labels(session, [image.id], int(rng.choice([c for c in class_ids if c != image.class_id])))
            flipped.add(image.id)
    return flipped


def calibrated_oof(project: Project, images, y: np.ndarray, spec, weights_path) -> np.ndarray:
    ready = None
    for event in ensure_embeddings(project, images, spec, "cpu", weights_path=weights_path):
        if isinstance(event, EmbeddingsReady):
            ready = event
    X = load_embeddings(project, [image.content_hash for image in images], ready.model_key, 0)[:, None, :]
    proba = oof(X, y, int(y.max()) + 1, seed=0)
    return scaled(proba, fit_temperature(y, proba))


def draw(workdir: Path, data: str, budget: float, seed: int) -> dict[str, tuple]:
    root, flip, _ = finetune_data(workdir / "data", data)
    with Project.open(root / "train", store=workdir / f"store-{seed}") as project:
        for _ in import_folder(project, labels_from_subfolders=True):
            pass
        flipped = flip_labels(project, 0.05, seed)
        outcome, _, seconds = run_training(project, TrainConfig(
            device="cpu", fine_tune=FineTuneConfig(flip=flip, time_budget_s=budget)))
        with project.session() as session:
            run = runs.get_run(session, outcome.run_id)
            images = catalog.labelled_images(session)
        class_ids = sorted({image.class_id for image in images})
        y = np.array([class_ids.index(image.class_id) for image in images])
        truth = {k for k, image in enumerate(images) if image.id in flipped}
        pretrained = get_backbone(run.backbone)
        if run.metrics.get("preprocessing"):  # the input size the run fine-tuned at, as its evaluation uses
            pretrained = with_preprocessing(pretrained, run.metrics["preprocessing"])
        network = network_of_run(project, outcome.run_id)
        print(f"draw {seed}: {len(images)} images, {len(truth)} flipped; fine-tuned in {seconds:.0f} s, "
              f"validation accuracy {run.metrics.get('val_acc'):.3f}, fine-tuned model kept: "
              f"{run.metrics.get('fine_tuned')}", flush=True)
        base = calibrated_oof(project, images, y, pretrained, None)
        tuned = calibrated_oof(project, images, y, network.spec, network.weights_path)
        row = {image.id: k for k, image in enumerate(images)}
        listed = [row[s.image_id] for s in load_evaluation(project, outcome.run_id).suspects]
    rows = {"pretrained network (the list until December 2026)": base, "fine-tuned network": tuned}
    rows.update({f"mixed, fine-tuned weight {w}": (1 - w) * base + w * tuned for w in FINE_TUNED_WEIGHTS})
    rows["Dovecote's list (the run's stored evaluation)"] = listed
    results = {}
    for label, proba in rows.items():
        ranked = proba if isinstance(proba, list) else [s.index for s in find_label_errors(y, proba)]
        results[label] = scores(ranked, truth, len(truth))[:4]
        listed, at_k, found, precision = results[label]
        print(f"  {label:<50} listed {listed:>5}  recall@k {at_k:.3f}  recall {found:.3f}  precision "
              f"{precision:.3f}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=DATA, default="animals-mixed")
    parser.add_argument("--budget", type=float, default=150.0, help="the fine-tuning run's time budget in seconds")
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dovecote-bench-"))
    try:
        every = [draw(workdir, args.data, args.budget, seed) for seed in range(1, args.draws + 1)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"mean over {args.draws} draws:")
    for label in every[0]:
        listed, at_k, found, precision = np.mean([results[label] for results in every], axis=0)
        low, high = min(r[label][1] for r in every), max(r[label][1] for r in every)
        print(f"  {label:<50} listed {listed:>5.0f}  recall@k {at_k:.3f} ({low:.3f}-{high:.3f})  recall "
              f"{found:.3f}  precision {precision:.3f}")


if __name__ == "__main__":
    main()
