"""The `dovecote` console script: commands run in core; window-opening ones start Qt, imported only then."""
from __future__ import annotations

import argparse
import sys

from core.cli import main as cli_main
from core.selftest.checks import Check


def _run_gui(args: argparse.Namespace) -> int:
    # Qt loads only for commands that show a window.
    if getattr(args, "command", None) == "classify":
        from desktop.classify.window import run_classify_window

        return run_classify_window(args)
    from desktop.app import run_app

    return run_app(args)


def _qt_check() -> str:
    from desktop.app import qt_selftest

    return qt_selftest()


def main() -> None:
    sys.exit(cli_main(gui=_run_gui, checks=[Check("qt", _qt_check)]))
