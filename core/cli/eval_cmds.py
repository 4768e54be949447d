"""evaluate, report, compare: how good a run's model is, where it is wrong, and what changed between runs.

Out-of-fold predictions are computed after training; for a run that lacks them (made before, or stopped
while evaluating) these commands compute them first, with a progress bar."""
from __future__ import annotations

import argparse

from core.cli.output import follow, print_json
from core.cli.project_cmds import add_project_args, default_output, open_project

TOP_SUSPECTS = 20
CORNER = "given \\ predicted"


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="metrics, confusion matrix and suspected label errors of a run, "
                              "from out-of-fold predictions over every labelled image")
    add_project_args(p)
    _add_run_arg(p)
    p.add_argument("--top", type=int, default=TOP_SUSPECTS, metavar="N",
                   help=f"show the N most suspicious labels (default {TOP_SUSPECTS}; --json lists all)")
    p.add_argument("--json", action="store_true", help="print one JSON object (no progress)")
    p.set_defaults(handler=cmd_evaluate)

    p = subparsers.add_parser("report", help="write a run's report (a model card) as one self-contained HTML file")
    add_project_args(p)
    _add_run_arg(p)
    p.add_argument("--out", metavar="FILE", help="the HTML file to write (default: dovecote-report-run-N.html "
                   "in FOLDER, or in the store with --store)")
    p.add_argument("--top", type=int, default=24, metavar="N", help="thumbnails of the N worst mistakes (default 24)")
    p.set_defaults(handler=cmd_report)

    p = subparsers.add_parser("compare", help="which images changed predicted class between two runs, "
                              "and which labels were edited in between")
    add_project_args(p)
    p.add_argument("run_a", type=int, metavar="RUN", help="one run id ('dovecote runs FOLDER' lists them)")
    p.add_argument("run_b", type=int, metavar="RUN", help="another run id")
    p.add_argument("--json", action="store_true", help="print one JSON object (no progress)")
    p.set_defaults(handler=cmd_compare)


def _add_run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", type=int, metavar="ID", help="the run (default: the latest with a model)")


def _evaluated_run(project, run_id: int | None, quiet: bool) -> int:
    from core.evaluation.run_evaluation import ensure_evaluated, pick_run

    with project.session() as session:
        run_id = pick_run(session, run_id).id
    for _ in follow(ensure_evaluated(project, run_id), quiet=quiet):
        pass
    return run_id


def cmd_evaluate(args) -> int:
    from core.evaluation.run_evaluation import load_evaluation

    with open_project(args) as project:
        ev = load_evaluation(project, _evaluated_run(project, args.run, args.json))
    if args.json:
        print_json(_evaluation_dict(ev))
        return 0
    m = ev.metrics
    print(f"Run {ev.run_id}: out-of-fold predictions for {m.n_images} labelled images ({ev.folds} folds; "
          "each image predicted by a model that did not train on it).")
    print(f"Accuracy {m.accuracy:.1%}, balanced accuracy {m.balanced_accuracy:.1%}, macro F1 {m.macro.f1:.3f}"
          + (f", ROC AUC {m.roc_auc:.3f}" if m.roc_auc is not None else "")
          + (f", log loss {m.log_loss:.3f}" if m.log_loss is not None else "") + ".")
    if ev.calibration:
        print(calibration_line(ev.calibration))
    print()
    _print_per_class(m)
    print()
    _print_confusion(ev.confusion)
    print()
    _print_suspects(ev, args.top)
    return 0


def _evaluation_dict(ev) -> dict:
    names = ev.class_names
    return {
        "run": ev.run_id,
        "folds": ev.folds,
        "images": ev.metrics.n_images,
        "metrics": ev.metrics.to_dict(),
        "calibration": ev.calibration,
        "confusion_matrix": {
            "classes": names, "counts": ev.confusion.counts, "normalised": ev.confusion.normalised,
            "cells": [{"given": names[g], "predicted": names[p],
                       "images": [{"path": ev.paths[c.image_id], "confidence": round(c.confidence, 6)} for c in cell]}
                      for (g, p), cell in sorted(ev.confusion.cells.items())],
        },
        "suspected_errors": [{"path": s.path, "given": s.given, "suggested": s.suggested,
                              "score": round(s.score, 6), "confidence": round(s.confidence, 6)} for s in ev.suspects],
        "relabelled_since_run": sorted(ev.paths[i] for i in ev.relabelled),
    }


def calibration_line(calibration: dict) -> str:
    return (f"Calibration: expected calibration error {calibration['ece_before']:.3f} before, "
            f"{calibration['ece_after']:.3f} after temperature scaling (T = {calibration['temperature']:.2f}"
            + ("; the model's confidences are scaled the same way)." if calibration.get("applied_to_model")
               else "; the model itself is not rescaled)."))


def _print_per_class(m) -> None:
    width = max([len(c.name) for c in m.per_class] + [len("weighted avg")])
    print(f"{'class':<{width}}  {'precision':>9}  {'recall':>6}  {'F1':>5}  {'images':>6}")
    for c in m.per_class:
        print(f"{c.name:<{width}}  {c.precision:>9.3f}  {c.recall:>6.3f}  {c.f1:>5.3f}  {c.support:>6}")
    for name, avg in (("macro avg", m.macro), ("weighted avg", m.weighted)):
        print(f"{name:<{width}}  {avg.precision:>9.3f}  {avg.recall:>6.3f}  {avg.f1:>5.3f}  {m.n_images:>6}")


def _print_confusion(c) -> None:
    """Rows: given class; columns: predicted class (names cut to 12 characters to keep the table narrow)."""
    heads = [n if len(n) <= 12 else n[:11] + "…" for n in c.class_names]
    cell = max([len(h) for h in heads] + [len(str(max(map(max, c.counts), default=0)))])
    label = max([len(n) for n in c.class_names] + [len(CORNER)])
    print("Confusion matrix (rows: given class, columns: predicted class)")
    print(f"{CORNER:<{label}}  " + "  ".join(f"{h:>{cell}}" for h in heads))
    for name, row in zip(c.class_names, c.counts):
        print(f"{name:<{label}}  " + "  ".join(f"{n:>{cell}}" for n in row))


def _print_suspects(ev, top: int) -> None:
    if not ev.suspects:
        print("No suspected label errors: the out-of-fold predictions agree with the labels where they are confident.")
        return
    shown = ev.suspects[: max(top, 0)]
    print(f"Suspected label errors: {len(ev.suspects)} (the {len(shown)} most suspicious below, score = 1 - the "
          "model's probability for the given label; relabel with 'dovecote label FOLDER --class NAME PATH…')")
    if not shown:
        return
    given = max([len(s.given) for s in shown] + [len("given")])
    suggested = max([len(s.suggested) for s in shown] + [len("suggested")])
    print(f"{'score':>5}  {'given':<{given}}  {'suggested':<{suggested}}  path")
    relabelled = {ev.paths[i] for i in ev.relabelled}
    for s in shown:
        note = "  (relabelled since)" if s.path in relabelled else ""
        print(f"{s.score:>5.2f}  {s.given:<{given}}  {s.suggested:<{suggested}}  {s.path}{note}")


def cmd_report(args) -> int:
    from core.report.build import write_report

    with open_project(args) as project:
        run_id = _evaluated_run(project, args.run, quiet=False)
        out = args.out or default_output(project, args, f"dovecote-report-run-{run_id}.html")
        out = write_report(project, run_id, out, max(args.top, 0))
    print(f"Report for run {run_id} written to {out}")
    return 0


def cmd_compare(args) -> int:
    from core.evaluation.comparison import compare_runs

    with open_project(args) as project:
        first = _evaluated_run(project, args.run_a, args.json)
        second = _evaluated_run(project, args.run_b, args.json)
        result = compare_runs(project, first, second)
    if args.json:
        print_json({
            "earlier": result.earlier, "later": result.later, "compared": result.compared,
            "changed_predictions": [{"path": c.path, "before": c.before, "after": c.after, "label": c.label}
                                    for c in result.changed_predictions],
            "label_edits": [{"path": e.path, "old": e.old, "new": e.new} for e in result.label_edits],
        })
        return 0
    print(f"Runs {result.earlier} → {result.later}: {len(result.changed_predictions)} of {result.compared} images "
          f"changed predicted class; {len(result.label_edits)} label(s) edited in between.")
    for c in result.changed_predictions:
        print(f"  {c.path}: {c.before or '?'} → {c.after or '?'} (label: {c.label or 'none'})")
    if result.label_edits:
        print("Label edits:")
        for e in result.label_edits:
            print(f"  {e.path}: {e.old or 'none'} → {e.new or 'none'}")
    return 0
