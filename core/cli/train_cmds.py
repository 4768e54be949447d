"""train, runs, export: training a classifier on a project and taking its model elsewhere."""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from tqdm import tqdm

from core.models.backbones import DEFAULT_BACKBONE, list_backbones
from core.models.int8 import verdict
from core.training.finetune import DEFAULT_TIME_BUDGET_S
from core.training.mirror_check import mirror_check_text
from core.cli.output import follow, is_terminal, print_json
from core.cli.project_cmds import add_project_args, default_output, open_project
from core.durations import elapsed_text
from core.errors import InvalidRequest



def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a classifier on the labelled images of a project")
    add_project_args(p)
    p.add_argument("--retrain", action="store_true",
                   help="train the head again with the latest model's settings, after changing labels (seconds: "
                        "the embeddings are cached); after fine-tuning, on its fine-tuned network, kept as it is")
    p.add_argument("--backbone", metavar="NAME",
                   help=f"pretrained network to start from: {', '.join(b.name for b in list_backbones())} "
                        f"(default {DEFAULT_BACKBONE})")
    p.add_argument("--weights", metavar="FILE", help="backbone weights from a file (.safetensors or .pth) "
                   "instead of downloading them")
    p.add_argument("--epochs", type=int, metavar="N", help="with --fine-tune, at most N epochs of fine-tuning "
                   "(default 10); without, a Dense(256) head trained for at most N epochs instead of the default "
                   "logistic-regression head; training stops earlier when the validation loss stops improving")
    p.add_argument("--fine-tune", action="store_true",
                   help="after the head, adapt the network to your images, on augmented views (slower, usually "
                        "better): on a CPU its last blocks, as many as the time budget allows; on a GPU all of it")
    p.add_argument("--time-budget", type=_duration_arg, metavar="TIME",
                   help="fine-tune within this much wall time for the whole run, e.g. 5m, 90s, 1h30m (implies "
                        f"--fine-tune; --fine-tune without --epochs plans for {_duration(DEFAULT_TIME_BUDGET_S)}); on a CPU it chooses "
                        "how many blocks to train, on how many cached views, for how many epochs")
    p.add_argument("--no-flip", action="store_true",
                   help="fine-tuning: no mirrored images (for text, digits, anything whose mirror image differs)")
    p.add_argument("--no-test-time-flip", action="store_true",
                   help="fine-tuning: never classify an image with its mirror image (by default the model does "
                        "where that is more accurate on the validation images, at half the speed)")
    p.add_argument("--input-size", type=int, metavar="PIXELS",
                   help="network input size, a multiple of 32 (default: the network's own for quick training, "
                        "smaller for small images when fine-tuning)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same data, same computer: same result")
    p.add_argument("--val-fraction", type=float, default=0.2, metavar="F",
                   help="share of each class kept aside to validate (default 0.2)")
    p.add_argument("--no-int8", action="store_true",
                   help="skip making and checking the faster int8 network at the end (the model stays fp32)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON (no progress)")
    p.set_defaults(handler=cmd_train)

    p = subparsers.add_parser("runs", help="list the training runs of a project")
    add_project_args(p)
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(handler=cmd_runs)

    p = subparsers.add_parser("export", help="write a project's classifier as one ONNX or TorchScript network")
    add_project_args(p)
    p.add_argument("--run", type=int, metavar="ID", help="the run whose model to export (default: the latest)")
    p.add_argument("--format", required=True, choices=("onnx", "torchscript"))
    p.add_argument("--out", metavar="PATH", help="the file to write (default: dovecote-run-N.onnx or .pt in "
                   "FOLDER, or in the store with --store)")
    p.set_defaults(handler=cmd_export)


def _config(args, project):
    from core.models.heads import MLP
    from core.training.runner import FineTuneConfig, HeadConfig, TrainConfig

    if args.retrain:
        return _retrain_config(args, project)
    if args.epochs is not None and args.epochs < 1:
        raise InvalidRequest("--epochs must be at least 1.")
    head, fine = HeadConfig(), None
    if args.fine_tune or args.time_budget is not None:
        budget = args.time_budget
        if budget is None and args.epochs is None:
            budget = DEFAULT_TIME_BUDGET_S
        fine = FineTuneConfig(flip=not args.no_flip, test_time_flip=not args.no_test_time_flip,
                              time_budget_s=budget)
        fine = fine if args.epochs is None else replace(fine, epochs=args.epochs)
    elif args.epochs is not None:  # epochs are the Dense head's: the default linear head has none
        head = replace(head, kind=MLP, max_epochs=args.epochs)
    return TrainConfig(backbone=args.backbone or DEFAULT_BACKBONE, head=head, fine_tune=fine,
                       val_fraction=args.val_fraction, seed=args.seed, device=args.device, weights_path=args.weights,
                       input_size=args.input_size, int8=not args.no_int8)


def _retrain_config(args, project):
    from core.storage import runs
    from core.training.retrain import retrain_config

    given = [flag for flag, value in (("--fine-tune", args.fine_tune), ("--time-budget", args.time_budget),
                                      ("--backbone", args.backbone), ("--weights", args.weights),
                                      ("--epochs", args.epochs), ("--input-size", args.input_size)) if value]
    if given:
        raise InvalidRequest(f"--retrain uses the latest model's settings: leave out {', '.join(given)}.")
    with project.session() as session:
        base = runs.latest_model_run(session)
    if base is None:
        raise InvalidRequest(f"There is no model to retrain yet. Train one first: dovecote train {args.folder}")
    config = retrain_config(base)
    return replace(config, device=args.device, int8=config.int8 and not args.no_int8)


def _duration_arg(text: str) -> float:
    """ "300", "300s", "5m", "1h30m", "4m30s" -> seconds."""
    import re

    cleaned = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        seconds = float(cleaned)
    else:
        parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?:in)?)?(?:(\d+(?:\.\d+)?)s)?", cleaned)
        if not cleaned or parts is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a duration: write e.g. 5m, 90s or 1h30m")
        hours, minutes, secs = (float(v) if v else 0.0 for v in parts.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds < 10:
        raise argparse.ArgumentTypeError("the time budget must be at least 10 s")
    return seconds


def cmd_train(args) -> int:
    from core.storage import runs
    from core.training.runner import RunFinished, RunStarted, train

    with open_project(args) as project:
        config = _config(args, project)
        events = train(project, config)
        started, finished = None, None
        try:
            for event in _show_epochs(follow(events, quiet=args.json), config, quiet=args.json):
                if isinstance(event, RunStarted):
                    started = event
                elif isinstance(event, RunFinished):
                    finished = event
        except KeyboardInterrupt:
            events.close()
            if started is None:
                raise
            with project.session() as session:
                run = runs.get_run(session, started.run_id)
            _summary(args, project, run, interrupted=True)
            return 130
        with project.session() as session:
            run = runs.get_run(session, finished.run_id)
        _summary(args, project, run)
    return 0


def _show_epochs(events, config, quiet: bool):
    """The head's epochs as one bar (they take milliseconds), or one line when it ends if stderr is not a
    terminal; each fine-tuning epoch as a line."""
    from core.models.heads import EpochEnded
    from core.training.plan import most_head_epochs

    head = _HeadBar() if is_terminal(sys.stderr) else _HeadLine()
    try:
        for event in events:
            if isinstance(event, EpochEnded) and not quiet:
                if event.phase == "head":
                    head.show(event, most_head_epochs(config.head))
                else:
                    head.close()
                    planned = event.planned or config.fine_tune.epochs
                    tqdm.write(f"Fine-tuning epoch {event.epoch}/{planned}: {_epoch_text(event)}"
                               + (f", about {_duration(event.eta_s)} left" if event.eta_s else ""), file=sys.stderr)
            elif not isinstance(event, EpochEnded):
                head.close()
            yield event
    finally:
        head.close()


class _HeadBar:
    def __init__(self):
        self.bar = None

    def show(self, event, max_epochs: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=max_epochs, desc="Training the head", unit=" epochs", file=sys.stderr,
                            dynamic_ncols=True)
        self.bar.n = event.epoch
        if event.eta_s == 0:
            self.bar.total = event.epoch  # stopped early: the best weights are kept
        self.bar.set_postfix_str(_epoch_text(event), refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _HeadLine:
    """Not a terminal: the head's training as one line, with its last epoch, when it ends."""

    def __init__(self):
        self.last = None

    def show(self, event, max_epochs: int) -> None:
        self.last = event

    def close(self) -> None:
        if self.last is not None:
            print(f"Training the head: {self.last.epoch} epochs, {_epoch_text(self.last)}", file=sys.stderr, flush=True)
            self.last = None


def _epoch_text(e) -> str:
    text = f"loss {e.train_loss:.3f}, acc {e.train_acc:.1%}"
    if e.val_loss is not None:
        text += f", val loss {e.val_loss:.3f}, val acc {e.val_acc:.1%}"
    return text + f", {e.images_per_s:,.0f} img/s"


def _duration(seconds: float | None) -> str:
    return elapsed_text(seconds, decimals=1, missing="-")


def _fine_tune_text(m: dict) -> str:
    """What fine-tuning did and gained over the head alone, on the same validation images."""
    lines = []
    plan = m.get("fine_tune_plan")
    if plan:
        budget = (f"(time budget {_duration(m['time_budget_s'])}, {_duration(plan['budget_s'])} of it left for "
                  "this phase): " if plan.get("budget_s") and m.get("time_budget_s") else "")
        lines.append(f"Fine-tuning {budget}the last {plan['pieces']} of {plan['total_pieces']} blocks trained, "
                     f"{plan['views']} cached view(s) per image ({plan['row_bytes'] / 1024:,.0f} KB each, "
                     f"{plan['cache_bytes'] / 2**20:,.0f} MB), {_epochs_text(plan)}.")
    if m.get("fine_tune_gain") is not None:
        verdict = "kept" if m.get("fine_tuned") else "not kept: its validation loss was not lower"
        lines.append(f"Fine-tuning gain over the head alone: {100 * m['fine_tune_gain']:+.1f} points "
                     f"({m['fine_tune_val_acc']:.1%} against {m['head_val_acc']:.1%} on the same "
                     f"{m.get('val_images', 0)} validation images; fine-tuned model {verdict}).")
    flip = m.get("test_time_flip")
    if flip and m.get("fine_tuned"):
        lines.append(mirror_check_text(flip))
    return "\n".join(lines)


def _model_text(run) -> str:
    if run.metrics.get("fine_tuned"):
        return "fine-tuned network"
    return f"head on the network {run.network}" if run.network else "head on the pretrained network"


def _epochs_text(plan: dict) -> str:
    """How many epochs ran against how many were planned, and why they differ."""
    planned, ran = plan.get("first_epochs") or plan["epochs"], plan.get("epochs_run")
    if ran is None or ran == planned:
        return f"{planned} epoch(s)"
    if plan.get("budget_s") and plan["epochs"] != planned:
        return f"planned {planned} epoch(s), ran {ran} to fit {_duration(plan['budget_s'])}"
    return f"planned {planned} epoch(s), ran {ran}"


def _model_file(project, run) -> str | None:
    return str(project.store_dir / run.model_path) if run.model_path else None


def _summary(args, project, run, interrupted: bool = False) -> None:
    m = run.metrics
    if args.json:
        print_json(_run_dict(run) | {"model_file": _model_file(project, run)})
        return
    if interrupted:
        print(f"Stopped. Run {run.id} is recorded as {run.status}.")
    else:
        print(f"Run {run.id} {run.status} on {run.device}: {m.get('train_images', 0)} training and "
              f"{m.get('val_images', 0)} validation images, classes {', '.join(m.get('classes', []))}.")
    if m.get("val_acc") is not None:
        print(f"Validation accuracy {m['val_acc']:.1%} (loss {m['val_loss']:.3f}), "
              f"{_model_text(run)}.")
    if m.get("calibration"):
        from core.cli.eval_cmds import calibration_line

        print(calibration_line(m["calibration"]))
    fine = _fine_tune_text(m)
    if fine:
        print(fine)
    phases = m.get("phase_seconds", {})
    if phases:
        print("Time: " + ", ".join(f"{name} {_duration(s)}" for name, s in phases.items()) + ".")
    if m.get("int8"):
        usable, why = verdict(m["int8"])
        print(f"Classifying on a CPU: {'int8' if usable else 'fp32'}; {why} (the check took "
              f"{_duration(m['int8'].get('seconds'))}).")
    model = _model_file(project, run)
    print(f"Model: {model}" if model else "No model was saved (the run stopped before its first epoch ended).")


def _run_dict(run) -> dict:
    return {"id": run.id, "status": run.status, "backbone": run.backbone, "device": run.device, "seed": run.seed,
            "started": run.started_at.isoformat(timespec="seconds"),
            "duration_s": None if run.duration_s is None else round(run.duration_s, 3),
            "val_acc": run.metrics.get("val_acc"), "fine_tuned": bool(run.metrics.get("fine_tuned")),
            "model_path": run.model_path, "metrics": run.metrics, "config": run.config, "error": run.error}


def cmd_runs(args) -> int:
    from core.storage import runs

    with open_project(args) as project, project.session() as session:
        listed = runs.list_runs(session)
    if args.json:
        print_json([_run_dict(run) for run in listed])
        return 0
    if not listed:
        print(f"No runs yet. Train one: dovecote train {args.folder}")
        return 0
    print(f"{'id':>4}  {'status':<11} {'backbone':<22} {'started':<19}  {'duration':>10}  {'val acc':>7}  int8")
    for run in listed:
        acc = "-" if run.val_acc is None else f"{run.val_acc:.1%}"
        started = run.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        tuned = "+ft" if run.network else ""
        print(f"{run.id:>4}  {run.status:<11} {run.backbone + tuned:<22} {started:<19}  "
              f"{_duration(run.duration_s):>10}  {acc:>7}  {_int8_text(run.metrics.get('int8'))}")
    return 0


def _int8_text(check: dict | None) -> str:
    """The runs list's int8 column: whether classifying uses it, and the agreement it was judged by."""
    if not check:
        return "-"
    return f"{'yes' if verdict(check)[0] else 'no'} ({check['agreement']:.1%} of {check['images']})"


def cmd_export(args) -> int:
    from core.models.bundles import export_model, load_model

    with open_project(args) as project:
        pass  # marks crashed runs as interrupted and checks the folder before loading
    bundle = load_model(args.folder, args.run, args.store)
    suffix = ".onnx" if args.format == "onnx" else ".pt"
    out = export_model(bundle, args.format,
                       args.out or default_output(project, args, f"dovecote-run-{bundle.metadata.get('run_id')}{suffix}"))
    print(f"Exported run {bundle.metadata.get('run_id')} ({', '.join(bundle.classes)}) as {args.format}: {out}")
    print(f"Input: images [N, 3, {bundle.preprocessing.input_size}, {bundle.preprocessing.input_size}], "
          f"normalised with mean {list(bundle.preprocessing.mean)} and std {list(bundle.preprocessing.std)}; "
          "output: class probabilities [N, C].")
    return 0
