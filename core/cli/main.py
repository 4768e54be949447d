"""Argument parsing and error handling shared by every subcommand."""
from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import os
import re
import sys
from typing import TYPE_CHECKING, Callable, Sequence

from core.cli.output import safe_streams
from core.errors import DovecoteError, InvalidRequest
from core.logs import log_path, setup_logging

if TYPE_CHECKING:
    from core.selftest.checks import Check

log = logging.getLogger(__name__)

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


class _Version(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):  # looked up only when asked for
        print(f"dovecote {_version()}")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit status 2, as argparse does, with a hint
        self.exit(2, f"dovecote: error: {_with_suggestion(message)} (see '{self.prog} --help')\n")


def _with_suggestion(message: str) -> str:
    """argparse's "invalid choice: 'trian' (choose from ...)" becomes "... Did you mean 'train'?"."""
    match = re.search(r"invalid choice: '?([^'\s]*)'? \(choose from (.*)\)", message)
    if match is None:
        return message
    given = match.group(1)
    choices = [c.strip(" '\"") for c in match.group(2).split(",")]
    close = difflib.get_close_matches(given, choices, n=1, cutoff=0.5)
    what = "command" if message.startswith("argument COMMAND") else "choice"
    text = f"{given!r} is not a {what}" + (f"; did you mean {close[0]!r}?" if close else "")
    return text + f" (choose from {', '.join(choices)})"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dovecote",
        description="Train an image classifier on your own folder of images, locally.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    parser.add_argument("--log-path", action="store_true",
                        help="print where the log file is (what went wrong, with details) and exit")
    parser.add_argument("--selftest", action="store_true",
                        help="check that this installation trains and classifies (no display needed; about "
                             "half a minute), print one line to paste into a support request, and exit")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    gui = subparsers.add_parser("gui", help="open the Dovecote window (the default with no command)")
    gui.add_argument("folder", nargs="?", help="a folder of images to open as a project")
    gui.add_argument("--view", choices=GUI_VIEWS, type=str.lower,
                     help="the view to open on: images (the default), train or review")
    gui.set_defaults(handler=None, needs_gui=True, command="gui")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, gui: GuiHandler | None = None, checks: Sequence["Check"] = ()) -> int:
    """Run one command; returns the exit status. `gui` runs commands that open windows (from desktop/);
    `checks` are what the self-test checks beyond core (the window's Qt)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    safe_streams()
    parser = build_parser()
    args = parser.parse_args(argv or ["gui"])
    if args.log_path:
        print(log_path())
        return 0
    setup_logging()
    if args.selftest:
        return _selftest(checks)
    command = argv[0] if argv else "gui"
    log.info("dovecote %s: %s", _version(), " ".join(argv) or command)
    try:
        if getattr(args, "gui", False) is True and (getattr(args, "cluster", None) or getattr(args, "shard", None)):
            raise InvalidRequest("--cluster and --shard are for runs from a terminal or a batch job, not --gui.")
        if getattr(args, "needs_gui", False) or getattr(args, "gui", False) is True:
            if gui is None:
                raise DovecoteError("The desktop app is not available in this installation; use the commands.")
            return gui(args)
        return args.handler(args)
    except DovecoteError as error:
        log.info("%s stopped: %s", command, error)
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
    except Exception:
        log.exception("%s failed", command)  # a bug: its traceback is printed as well, and kept in the log
        raise


def _selftest(checks: Sequence["Check"]) -> int:
    """One line on stdout, exit status 0 only if every check passed; the details go to the log."""
    from core.selftest.checks import SelftestFinished, run_selftest, verdict_line

    log.info("dovecote %s: --selftest", _version())
    finished = [e for e in run_selftest(_version(), checks) if isinstance(e, SelftestFinished)][-1]
    print(verdict_line(finished))
    if not finished.passed:
        print(f"Details are in the log: {log_path()}", file=sys.stderr)
    return 0 if finished.passed else 1


def _version() -> str:
    from core.models.bundles import app_version

    return app_version()
