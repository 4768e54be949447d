"""Retraining after fine-tuning, as the Review view's Retrain and `dovecote train --retrain` do it (the head again
on the fine-tuned network, core.training.retrain), beside the baseline in the same run: the head on the
pretrained network with the fine-tuned run's other settings (what a retrain did before December 2026).

Fine-tunes within --budget from an empty store on --data (benchmarks/finetune_data.py; `animals*` need
`pip install --no-deps animal-mnist`), changes 10 labels, then retrains: the baseline, the retrain, and the
retrain of that retrain. Test accuracy and wall time (the evaluation included) of each, and the ratios.

    python benchmarks/bench_retrain_finetuned.py [--data animals-mixed] [--budget 300]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_training import run_training, test_accuracy  # noqa: E402 (puts the repository on the path)
from core.importing.scanning import import_folder  # noqa: E402
from core.project import Project  # noqa: E402
from core.storage import catalog, labels, runs  # noqa: E402
from core.training.retrain import retrain_config  # noqa: E402
from core.training.runner import FineTuneConfig, TrainConfig  # noqa: E402
from finetune_data import DATA, finetune_data  # noqa: E402


def bench(workdir: Path, budget: float, data: str) -> None:
    root, flip, what = finetune_data(workdir, data)
    print(f"== Retraining after fine-tuning within {budget:.0f} s: {what}, 10 classes")
    with Project.open(root / "train", store=workdir / "store-refit") as project:
        for _ in import_folder(project, labels_from_subfolders=True):
            pass
        config = TrainConfig(device="cpu", fine_tune=FineTuneConfig(flip=flip, time_budget_s=budget))
        tuned, _, seconds = run_training(project, config)
        with project.session() as session:
            base = runs.get_run(session, tuned.run_id)
        check = base.metrics.get("int8")
        print(f"fine-tuned run {tuned.run_id}: test acc {test_accuracy(tuned.model_path, root / 'test'):.4f}, "
              f"wall {seconds:.1f} s, fine-tuned model kept: {base.metrics.get('fine_tuned')}, int8 check: "
              f"{'left out' if check is None else ('passed' if check['passed'] else 'failed')}")
        with project.session() as session:
            images = catalog.labelled_images(session)[:10]
            other = labels.find_class(session, "0").id
            labels.set_labels(session, [image.id for image in images], other)
        old_config = replace(TrainConfig.from_dict(base.config), fine_tune=None)
        rows = [("before: head on the pretrained network", old_config),
                ("now: head on the fine-tuned network", retrain_config(base)),
                ("now, again", None)]
        times = {}
        for name, retrain in rows:
            if retrain is None:  # the retrain of the retrain, as the Review view's next Retrain makes it
                with project.session() as session:
                    retrain = retrain_config(runs.latest_model_run(session))
            outcome, model_s, total_s = run_training(project, retrain)
            times[name] = total_s
            print(f"{name:<40} test acc {test_accuracy(outcome.model_path, root / 'test'):.4f}  wall {total_s:6.2f} s "
                  f"({model_s:.2f} s to the saved model)  embeddings computed by "
                  f"{outcome.metrics.get('embeddings_device')}", flush=True)
    before, now, again = times.values()
    print(f"retrain wall time now / before: {now / before:.3f} (first), {again / before:.3f} (the next)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=DATA, default="animals-mixed")
    parser.add_argument("--budget", type=float, default=300.0, help="the fine-tuning run's time budget in seconds")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dovecote-bench-"))
    try:
        bench(workdir, args.budget, args.data)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
