""""Classify with Dovecote" on a folder's right-click menu, for each desktop's file manager.

Every entry calls the installed `dovecote` by absolute path: file managers start programs with a minimal
environment where PATH may not include a virtual environment or ~/.local/bin.

The platforms' modules (linux, macos, windows) share core/integration/entries.py; this package picks one.
May import core.atomic and core.errors."""
from __future__ import annotations

import sys
from pathlib import Path

from core.integration.entries import dovecote_command


def for_this_system(command: list[str] | None = None):
    """The integration for this platform: install(), uninstall() and status(), each returning Entries."""
    command = command or dovecote_command()
    if sys.platform == "win32":
        from core.integration.windows import WindowsIntegration

        return WindowsIntegration(command)
    if sys.platform == "darwin":
        from core.integration.macos import MacIntegration

        return MacIntegration(Path.home(), command)
    from core.integration.linux import LinuxIntegration

    return LinuxIntegration(Path.home(), command)
