"""import, status, classes, label: building and inspecting a project from the command line."""
from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.output import follow, print_json
from core.errors import InvalidRequest
from core.project import Project
from core.importing.scanning import ImportFinished, import_folder
from core.storage import catalog, labels
from core.storage.paths import shown


def add_project_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="the folder of images (the project)")
    parser.add_argument("--store", metavar="DIR", help="keep the project store here instead of FOLDER/.dovecote")


def open_project(args: argparse.Namespace, create: bool = False) -> Project:
    """Only import makes a new project: any other command on a folder without one says to import it."""
    project = Project.open(args.folder, args.store, create=create)
    project.mark_interrupted_runs()
    return project


def default_output(project: Project, args: argparse.Namespace, name: str) -> Path:
    """Where a command writes when --out is not given: the project folder, or the store when it was put
    elsewhere (--store, for a folder that is read-only)."""
    return (project.store_dir if args.store else project.root) / name


def register(subparsers) -> None:
    p = subparsers.add_parser("import", help="find the images in a folder (again: pick up what changed)")
    add_project_args(p)
    p.add_argument("--labels-from-subfolders", action="store_true",
                   help="use each first-level subfolder's name as the class of the images in it")
    p.add_argument("--follow-links", action="store_true",
                   help="also read images that links in the folder point to elsewhere (left out by default)")
    p.add_argument("--json", action="store_true", help="print a summary as JSON")
    p.set_defaults(handler=cmd_import)

    p = subparsers.add_parser("status", help="counts per class, unlabelled and unreadable images")
    add_project_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_status)

    p = subparsers.add_parser("classes", help="list, add, rename, merge or delete classes")
    add_project_args(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    p.set_defaults(handler=cmd_classes, action="list")
    actions.add_parser("list", help="list classes with their image counts").add_argument("--json", action="store_true")
    actions.add_parser("add", help="add classes").add_argument("names", nargs="+", metavar="NAME")
    a = actions.add_parser("rename", help="rename a class")
    a.add_argument("old"), a.add_argument("new")
    a = actions.add_parser("merge", help="move every image of SOURCE into TARGET and remove SOURCE")
    a.add_argument("source"), a.add_argument("target")
    actions.add_parser("delete", help="remove a class; its images become unlabelled").add_argument("name")

    p = subparsers.add_parser("label", help="set the class of images")
    add_project_args(p)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--class", dest="class_name", metavar="NAME", help="the class (one that exists)")
    group.add_argument("--clear", action="store_true", help="remove the label")
    p.add_argument("--create", action="store_true", help="with --class: create the class if there is none yet")
    p.add_argument("paths", nargs="+", metavar="PATH", help="images, relative to FOLDER or absolute")
    p.set_defaults(handler=cmd_label)


def cmd_import(args) -> int:
    with open_project(args, create=True) as project:
        summary = None
        events = import_folder(project, args.labels_from_subfolders, args.follow_links)
        for event in follow(events, quiet=args.json):
            if isinstance(event, ImportFinished):
                summary = event.summary
    if args.json:
        print_json(vars(summary) | {"skipped": dict(summary.skipped), "unreadable_files": [
            {"path": shown(p), "reason": r} for p, r in summary.unreadable_files]})
    else:
        print(f"{summary.found} images found: {summary.added} new, {summary.updated} changed, "
              f"{summary.moved} moved, {summary.missing} missing, {summary.unreadable} unreadable.")
        if summary.labelled:
            print(f"{summary.labelled} labelled from their subfolder.")
        if summary.skipped:
            print(f"{summary.skipped_text()}.")
        if args.follow_links:
            print("Links to places outside the folder were followed (--follow-links).")
    return 0


def cmd_status(args) -> int:
    with open_project(args) as project, project.session() as session:
        s = catalog.summary(session)
    if args.json:
        print_json({
            "images": s.images, "labelled": s.labelled, "unlabelled": s.unlabelled, "missing": s.missing,
            "classes": s.per_class,
            "unreadable": [{"path": shown(p), "reason": r} for p, r in s.unreadable],
        })
        return 0
    print(f"{s.images} images: {s.labelled} labelled, {s.unlabelled} unlabelled"
          + (f", {s.missing} missing from disk" if s.missing else ""))
    width = max((len(n) for n in s.per_class), default=0)
    for name, count in s.per_class.items():
        print(f"  {name:<{width}}  {count}")
    if not s.per_class:
        print("  no classes yet: add some with 'dovecote classes FOLDER add NAME…'")
    if s.unreadable:
        print(f"{len(s.unreadable)} unreadable:")
        for path, reason in s.unreadable:
            print(f"  {shown(path)}: {reason}")
    return 0


def cmd_classes(args) -> int:
    with open_project(args) as project, project.session() as session:
        if args.action == "add":
            for name in args.names:
                labels.add_class(session, name)
            print(f"Added {', '.join(args.names)}.")
        elif args.action == "rename":
            labels.rename_class(session, args.old, args.new)
            print(f"Renamed {args.old!r} to {args.new!r}.")
        elif args.action == "merge":
            moved = labels.merge_classes(session, args.source, args.target)
            print(f"Merged {args.source!r} into {args.target!r} ({moved} images relabelled).")
        elif args.action == "delete":
            freed = labels.delete_class(session, args.name)
            print(f"Deleted {args.name!r}; {freed} images are unlabelled now.")
        else:
            classes = labels.list_classes(session)
            if getattr(args, "json", False):
                print_json([{"name": c.name, "colour": c.colour, "count": c.count} for c in classes])
            for c in [] if getattr(args, "json", False) else classes:
                print(f"{c.name}\t{c.count}")
    return 0


def cmd_label(args) -> int:
    with open_project(args) as project, project.session() as session:
        ids, unknown = [], []
        for raw in args.paths:
            rel = _relative(project.root, raw)
            row = catalog.image_by_path(session, rel) if rel else None
            (ids.append(row.id) if row else unknown.append(raw))
        if unknown:
            raise InvalidRequest(
                f"Not in the project: {', '.join(unknown)}. Run 'dovecote import' first if they are new.")
        class_id = None if args.clear else _class_id(session, args.class_name, args.create)
        labels.set_labels(session, ids, class_id, source="manual")
    print(f"{'Cleared' if args.clear else 'Labelled'} {len(ids)} image(s)"
          + ("" if args.clear else f" as {args.class_name!r}") + ".")
    return 0


def _class_id(session, name: str, create: bool) -> int:
    """A typo must not become a class: a new name needs --create."""
    if create:
        return labels.ensure_class(session, name, source="manual")
    try:
        return labels.find_class(session, name).id
    except InvalidRequest as error:
        raise InvalidRequest(f"{error} To make a new class, add --create.") from None


def _relative(root: Path, raw: str) -> str | None:
    path = Path(raw)
    if not path.is_absolute():
        candidate = (Path.cwd() / path).resolve()
        path = candidate if candidate.is_relative_to(root) and candidate.exists() else root / path
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return None
