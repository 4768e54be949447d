"""CPU fine-tuning's learning rate: the same staged fine-tuning (core.training.staged_finetune: the last
blocks trained on cached views of the frozen ones) at several learning rates, each against the old default
(1e-4, the whole network's) in the same run, on the same images, cut, views and epochs.

The images are one of benchmarks/finetune_data.py's sets (--data; `animals*` need `pip install --no-deps
animal-mnist`). The head is fitted as a run fits it (the training part of a seeded 80/20 split, at the input
size fine-tuning uses on a CPU); the cut is fixed (--unfreeze: the last N of EfficientNet-Lite0's 9 blocks; 5
is what a 300 s budget chose on a quiet 2-core machine), so that only the learning rate differs. The views are
computed once, for the first rate; the others read them from the cache.

Usage: python benchmarks/bench_finetune_lr.py [--data animals-jittered] [--rates 1e-4,3e-4,1e-3,3e-3]
       [--unfreeze 5] [--epochs 10] [--keep DIR]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_training import test_probabilities  # noqa: E402
from core.features.cache import EmbeddingsReady, ensure_embeddings, load_embeddings  # noqa: E402
from core.importing.scanning import import_folder  # noqa: E402
from core.models.backbones import get_backbone  # noqa: E402
from core.models.bundles import ModelBundle  # noqa: E402
from core.models.head_fitting import make_head_trainer  # noqa: E402
from core.models.heads import EpochEnded  # noqa: E402
from core.project import Project  # noqa: E402
from core.training.finetune import WHOLE_NETWORK_LR, FineTuneConfig  # noqa: E402
from core.training.runner import TrainConfig, _input_for, _split, _training_set  # noqa: E402
from core.training.staged_finetune import STAGED_LR, StagedFineTuner  # noqa: E402
from finetune_data import DATA, finetune_data  # noqa: E402


def fitted_head(project, config: TrainConfig):
    """(spec at fine-tuning's CPU input size, classes, training and validation items, the head fine-tuning
    starts from), as core.training.runner makes them."""
    classes, images, y = _training_set(project)
    spec = _input_for(get_backbone(config.backbone), images, config, on_cpu=True)
    ready = None
    for event in ensure_embeddings(project, images, spec, "cpu"):
        if isinstance(event, EmbeddingsReady):
            ready = event
    train_idx, val_idx = _split(y, config.val_fraction, config.seed)
    hashes = [image.content_hash for image in images]
    trainer = make_head_trainer(load_embeddings(project, [hashes[i] for i in train_idx], ready.model_key),
                                y[train_idx], len(classes), config.head, config.seed,
                                load_embeddings(project, [hashes[i] for i in val_idx], ready.model_key), y[val_idx])
    for _ in trainer.epochs():
        pass

    def items(index):
        return [(project.root / images[i].path, int(y[i]), images[i].content_hash) for i in index]

    return spec, classes, items(train_idx), items(val_idx), trainer.validated_model()


def fine_tuned_accuracy(project, spec, classes, train, val, head, fine: FineTuneConfig, test: Path
                        ) -> tuple[float, float, int, float]:
    """(test accuracy, best validation accuracy, best epoch, seconds) of one staged fine-tuning."""
    tuner = StagedFineTuner(spec, head, train, val, len(classes), fine, 0, project.store_dir, dropout=0.0)
    started = time.perf_counter()
    for event in tuner.epochs():
        if isinstance(event, EpochEnded):
            print(f"      epoch {event.epoch}: train acc {event.train_acc:.4f} val loss {event.val_loss:.4f} "
                  f"val acc {event.val_acc:.4f} ({event.seconds:.0f} s)", flush=True)
    seconds = time.perf_counter() - started
    backbone_state, tuned_head = tuner.best()
    bundle = ModelBundle(classes=classes, backbone=spec.name, preprocessing=spec.preprocessing, head=tuned_head,
                         backbone_state=backbone_state, metadata={"test_time_flip": tuner.test_time_flip})
    probabilities, truth = test_probabilities(bundle, test)
    return (float((probabilities.argmax(1) == truth).mean()), tuner.stopping.best_val_acc,
            tuner.stopping.best_epoch, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=DATA, default="textures")
    parser.add_argument("--rates", default=f"{WHOLE_NETWORK_LR:g},3e-4,{STAGED_LR:g},3e-3",
                        help="learning rates, comma-separated (the first is the baseline)")
    parser.add_argument("--unfreeze", type=int, default=5, help="the last N blocks train")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dovecote-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        root, flip, what = finetune_data(workdir, args.data)
        print(f"== Staged fine-tuning by learning rate: {what}; the last {args.unfreeze} blocks, {args.epochs} "
              f"epochs; the default is {STAGED_LR:g}")
        base = FineTuneConfig(epochs=args.epochs, unfreeze_blocks=args.unfreeze, flip=flip)
        with Project.open(root / "train", store=workdir / "store") as project:
            for _ in import_folder(project, labels_from_subfolders=True):
                pass
            spec, classes, train, val, head = fitted_head(project, TrainConfig(device="cpu", fine_tune=base))
            print(f"   input {spec.preprocessing.input_size} px, {len(train)} training, {len(val)} validation "
                  f"images", flush=True)
            results = {}
            for rate in rates:
                print(f"   learning rate {rate:g}:", flush=True)
                config = FineTuneConfig(**{**base.to_dict(), "lr": rate})
                results[rate] = fine_tuned_accuracy(project, spec, classes, train, val, head, config, root / "test")
        baseline = results[rates[0]][0]
        for rate, (acc, val_acc, epoch, seconds) in results.items():
            print(f"lr {rate:<8g} test acc {acc:.4f} ({acc / baseline:.3f}x lr {rates[0]:g}'s, "
                  f"{100 * (acc - baseline):+.1f} points)  best val acc {val_acc:.4f} at epoch {epoch}  "
                  f"{seconds:.0f} s{'  <- default' if rate == STAGED_LR else ''}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
