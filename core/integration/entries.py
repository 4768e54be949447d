"""What every platform's right-click entries share: the label, the command they call, their states."""
from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from core.atomic import write_text
from core.errors import DovecoteError

MENU_LABEL = "Classify with Dovecote"
DESCRIPTION = "Classify the images in this folder with a model trained in Dovecote"
ARGS = ["classify", "--gui"]  # then the folder

INSTALLED = "installed"
OUTDATED = "outdated"  # present, but calls another dovecote (moved or reinstalled): install again
ABSENT = "absent"
SYSTEM = "system"  # installed for all users by a package (Linux .deb): removed with the package, not by the app


@dataclass(frozen=True)
class Entry:
    name: str  # what it is, for a person: "Nautilus script"
    location: str  # a file path or a registry key
    state: str  # INSTALLED, OUTDATED, ABSENT or SYSTEM


def dovecote_command() -> list[str]:
    """The absolute command that starts this installation of Dovecote."""
    if getattr(sys, "frozen", False):  # a bundled app (PyInstaller): the executable is the command
        return [str(Path(sys.executable).resolve())]
    candidates = []
    if sys.argv and Path(sys.argv[0]).name.lower().startswith("dovecote"):
        candidates.append(Path(sys.argv[0]))
    bindir = Path(sys.executable).parent  # a virtual environment's scripts sit beside its python
    candidates += [bindir / "dovecote", bindir / "dovecote.exe"]
    if found := shutil.which("dovecote"):
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate.resolve())]
    raise DovecoteError("Cannot find the installed 'dovecote' command for the file manager to call. "
                        "Reinstall Dovecote, or give its full path with --command.")


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Readers (a file manager watching its folder) never see half a file."""
    write_text(path, text, mode)
