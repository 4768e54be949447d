"""classify, undo, integrate: using a trained model on new folders, from a terminal or a file manager."""
from __future__ import annotations

import contextlib
import shlex
import signal
import sys
import threading
from pathlib import Path

from core.cli.output import follow, print_json
from core.errors import InvalidRequest
from core.classify.inference import SORT_MODES, UNREADABLE, ClassifyFinished, ClassifyRequest, ClassifyStarted, classify_folder
from core.classify.precision import CHOICES as PRECISIONS
from core.classify.shards import parse_shard
from core.classify.sorting import UNSURE, UndoFinished, undo_moves
from core.importing.walk import describe_skipped


def register(subparsers) -> None:
    p = subparsers.add_parser("classify", help="classify every image in a folder with a trained model")
    p.add_argument("target", metavar="TARGET", type=folder_argument,
                   help="the folder of images to classify (subfolders included)")
    p.add_argument("--model", metavar="MODEL",
                   help="a project folder (its latest finished run's model) or an exported model file")
    p.add_argument("--run", type=int, metavar="N", dest="run_id", help="with a project folder: the model of run N")
    p.add_argument("--output", metavar="FILE", help="the CSV to write (default: TARGET/dovecote-predictions.csv)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--overwrite", action="store_true", help="replace an existing CSV")
    again.add_argument("--resume", action="store_true", help="continue a stopped run: skip the images the CSV lists")
    p.add_argument("--sort", choices=SORT_MODES, help="also copy or move each image into a folder per class")
    p.add_argument("--into", metavar="DIR", help="where the class folders go (with --sort)")
    p.add_argument("--min-confidence", type=float, metavar="X",
                   help="images whose top probability is below X (0-1) are 'unsure' (and go to unsure/)")
    p.add_argument("--journal", metavar="FILE", help="with --sort move: where the undo journal goes (default: in DIR)")
    p.add_argument("--follow-links", action="store_true",
                   help="also classify images that links in TARGET point to elsewhere (left out by default)")
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per batch (default 32)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="the network's arithmetic on a CPU: auto (default: int8 where the model's check found it "
                        "agrees with fp32 on its labelled images), fp32, or int8")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="run on a Dask cluster: its scheduler (tcp://host:8786), or local:N for N worker processes "
                        "here (needs pip install 'dovecote[cluster]')")
    p.add_argument("--shard", type=parse_shard, metavar="K/N",
                   help="classify only the K-th of N parts of the folder (e.g. one per SLURM array job); join the "
                        "parts' CSVs with merge-results")
    p.add_argument("--json", action="store_true", help="print a summary as JSON (no progress bar)")
    p.add_argument("--gui", action="store_true",
                   help="show a small progress window instead (what 'Classify with Dovecote' in a file manager runs)")
    p.set_defaults(handler=cmd_classify, command="classify")

    p = subparsers.add_parser("undo", help="put back every file that 'classify --sort move' moved")
    p.add_argument("journal", metavar="JOURNAL", help="the journal file that classify printed")
    p.add_argument("--json", action="store_true", help="print a summary as JSON")
    p.set_defaults(handler=cmd_undo, command="undo")

    p = subparsers.add_parser("merge-results", help="join the CSVs of classify --shard runs into one")
    p.add_argument("output", metavar="OUT.csv", help="the joined CSV to write")
    p.add_argument("parts", metavar="PART", nargs="+", help="the parts' CSVs, in the order their rows should go")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.csv if it exists")
    p.add_argument("--json", action="store_true", help="print a summary as JSON")
    p.set_defaults(handler=cmd_merge_results, command="merge-results")

    p = subparsers.add_parser("integrate", help="add or remove 'Classify with Dovecote' in the file manager's menu")
    p.add_argument("action", choices=("install", "uninstall", "status"))
    p.add_argument("--command", metavar="PATH", dest="dovecote",
                   help="the dovecote program the menu entries call (default: this one)")
    p.add_argument("--json", action="store_true", help="print the entries as JSON")
    p.set_defaults(handler=cmd_integrate, command="integrate")


def folder_argument(raw: str, platform: str = sys.platform) -> str:
    """Explorer passes a drive root as "C:\\" in quotes, which Windows' argument rules read as C:" (the
    backslash escapes the closing quote): give the root back."""
    if platform == "win32" and raw.endswith('"'):
        return raw[:-1] + "\\"
    return raw


def request_from(args) -> ClassifyRequest:
    return ClassifyRequest(
        target=Path(args.target), model=args.model, run_id=args.run_id,
        output=Path(args.output) if args.output else None, overwrite=args.overwrite, resume=args.resume,
        sort=args.sort, into=Path(args.into) if args.into else None,
        journal=Path(args.journal) if args.journal else None, min_confidence=args.min_confidence,
        batch_size=args.batch_size, device=args.device, follow_links=args.follow_links,
        shard=getattr(args, "shard", None), precision=getattr(args, "precision", "auto"))


@contextlib.contextmanager
def _stop_on_ctrl_c():
    """The first Ctrl+C asks the run to stop after the current batch (its rows are then saved); a second
    one stops at once, as usual."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def first(signum, frame):
        stop.set()
        print("\nStopping after this batch (Ctrl+C again to quit at once)...", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _until(stop: threading.Event, events):
    """Pass events on until a stop is asked for; checked after each one, i.e. between batches."""
    for event in events:
        yield event
        if stop.is_set():
            return


def cmd_classify(args) -> int:
    if args.model is None:
        raise InvalidRequest("Which model? Give --model: a project folder or an exported model file "
                             "(or use --gui to choose one in a window).")
    started = finished = None
    if getattr(args, "cluster", None):
        from core.classify.cluster import classify_on_cluster  # Dask is imported only for a cluster run

        events = classify_on_cluster(request_from(args), args.cluster)
    else:
        events = classify_folder(request_from(args))
    with _stop_on_ctrl_c() as stop:
        shown = follow(_until(stop, events), quiet=args.json)
        try:
            for event in shown:
                if isinstance(event, ClassifyStarted):
                    started = event
                elif isinstance(event, ClassifyFinished):
                    finished = event.summary
        finally:
            shown.close()
            events.close()  # a stopped run keeps its rows in the partial CSV
    if finished is None:
        return _report_stopped(args, started)
    if args.json:
        print_json({"output": finished.output, "classes": finished.counts, UNSURE: finished.unsure,
                    UNREADABLE: finished.unreadable, "classified": finished.classified,
                    "already_done": finished.already_done, "seconds": round(finished.seconds, 3),
                    "images_per_s": round(finished.images_per_s, 2), "into": finished.into,
                    "journal": finished.journal, "device": started.device if started else None,
                    "precision": finished.precision, "precision_note": finished.precision_note,
                    "skipped": dict(finished.skipped),
                    "unreadable_files": [{"path": p, "reason": r} for p, r in finished.unreadable_files]})
        return 0
    print(f"Classified {finished.classified} image(s) in {finished.seconds:.1f} s ({finished.images_per_s:.1f} images/s)"
          + (f" on {started.device}" if started else "")
          + (f"; {finished.already_done} were done before" if finished.already_done else "") + ".")
    if finished.precision_note:
        print(f"Network: {finished.precision} ({finished.precision_note}).")
    groups = {**finished.counts, UNSURE: finished.unsure, UNREADABLE: finished.unreadable}
    width = max(len(name) for name in groups)
    for name, count in groups.items():
        if count or name in finished.counts:
            print(f"  {name:<{width}}  {count}")
    if finished.skipped:
        print(f"{describe_skipped(finished.skipped)}.")
    print(f"Results: {finished.output}")
    if finished.into:
        print(f"Images {'moved' if args.sort == 'move' else 'copied'} into {finished.into}")
    if finished.journal:
        print(f"To put the moved files back: dovecote undo {shlex.quote(str(finished.journal))}")
    return 0


def _report_stopped(args, started: ClassifyStarted | None) -> int:
    if started is None:
        print("Stopped before any image was classified.", file=sys.stderr)
        return 130
    if args.json:
        print_json({"stopped": True, "partial": started.partial})
    print(f"Stopped. The rows so far are in {started.partial} (partial). To finish, run the same command "
          "with --resume.", file=sys.stderr)
    return 130


def cmd_merge_results(args) -> int:
    from core.classify.merge import merge_results

    summary = merge_results(Path(args.output), [Path(part) for part in args.parts], args.overwrite)
    if args.json:
        print_json({"output": summary.output, "rows": summary.rows, "parts": summary.parts,
                    "duplicates": summary.duplicates})
    else:
        print(f"Joined {summary.parts} part(s) into {summary.output}: {summary.rows} row(s)"
              + (f"; {summary.duplicates} duplicate row(s) written once" if summary.duplicates else "") + ".")
    return 0


def cmd_undo(args) -> int:
    summary = None
    for event in follow(undo_moves(Path(args.journal)), quiet=args.json):
        if isinstance(event, UndoFinished):
            summary = event.summary
    if args.json:
        print_json({"restored": summary.restored, "already_back": summary.already_back,
                    "conflicts": [{"original": o, "now_at": n} for o, n in summary.conflicts],
                    "missing": [{"original": o, "was_at": n} for o, n in summary.missing]})
    else:
        print(f"Put {summary.restored} file(s) back"
              + (f"; {summary.already_back} were back already" if summary.already_back else "") + ".")
        if summary.conflicts:
            print(f"{len(summary.conflicts)} not put back, because a file now exists at the original place "
                  "(nothing was overwritten):")
            for original, now in summary.conflicts:
                print(f"  {now} -> {original}")
        if summary.missing:
            print(f"{len(summary.missing)} no longer where they were moved to (moved or deleted since):")
            for original, was in summary.missing:
                print(f"  {was} (from {original})")
    return 1 if summary.conflicts or summary.missing else 0


def cmd_integrate(args) -> int:
    from core.integration import for_this_system
    from core.integration.entries import INSTALLED, MENU_LABEL, SYSTEM

    command = [str(Path(args.dovecote).expanduser().resolve())] if args.dovecote else None
    integration = for_this_system(command)
    entries = getattr(integration, args.action)()
    if args.json:
        print_json([{"name": e.name, "location": e.location, "state": e.state} for e in entries])
        return 0
    if args.action == "install":
        print(f"'{MENU_LABEL}' is now on the right-click menu of folders. It calls {integration.command[0]}.")
    elif args.action == "uninstall":
        print(f"'{MENU_LABEL}' is removed from the file managers' menus.")
    for entry in entries:
        print(f"  {entry.state:<9}  {entry.name}: {entry.location}")
    if args.action == "install" and sys.platform.startswith("linux"):
        print("File managers that are open may need a restart to show it (e.g. 'nautilus -q').")
    return 0 if args.action != "install" or all(e.state in (INSTALLED, SYSTEM) for e in entries) else 1
