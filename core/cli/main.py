"""Argument parsing and error handling shared by every subcommand."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Callable, Sequence

from core.errors import DovecoteError

# Each module has register(subparsers); its commands set `handler(args) -> int` as a default.
# Listed in the order of a user's work, which is the order `dovecote --help` shows them in.
COMMAND_MODULES = [
    "core.cli.project_cmds",
    "core.cli.train_cmds",
    "core.cli.eval_cmds",
    "core.cli.classify_cmds",
]

GUI_VIEWS = ("images", "train", "review")  # the window's views, by the titles of their tabs
GuiHandler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit status 2, as argparse does, with a hint
        self.exit(2, f"dovecote: error: {message} (see 'dovecote --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dovecote",
        description="Train an image classifier on your own folder of images, locally.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    gui = subparsers.add_parser("gui", help="open the Dovecote window (the default with no command)")
    gui.add_argument("folder", nargs="?", help="a folder of images to open as a project")
    gui.add_argument("--view", choices=GUI_VIEWS, type=str.lower,
                     help="the view to open on: images (the default), train or review")
    gui.set_defaults(handler=None, needs_gui=True, command="gui")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, gui: GuiHandler | None = None) -> int:
    """Run one command; returns the exit status. `gui` runs commands that open windows (from desktop/)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv or ["gui"])
    try:
        if getattr(args, "needs_gui", False) or getattr(args, "gui", False) is True:
            if gui is None:
                raise DovecoteError("The desktop app is not available in this installation; use the commands.")
            return gui(args)
        return args.handler(args)
    except DovecoteError as error:
        print(f"dovecote: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dovecote: stopped.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`dovecote status --json | head`): not an error of ours.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
