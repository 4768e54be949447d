"""The `dovecote` console script: commands run in core; window-opening ones start Qt, imported only then."""
from __future__ import annotations

import argparse
import sys

from core.cli import main as cli_main


def _run_gui(args: argparse.Namespace) -> int:
    from desktop.app import run_app  # Qt loads only for commands that show a window

    return run_app(args)


def main() -> None:
    sys.exit(cli_main(gui=_run_gui))
