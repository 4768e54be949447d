"""macOS: a Finder Quick Action (an Automator service workflow in ~/Library/Services) that runs one shell
script with the selected folders as arguments."""
from __future__ import annotations

import plistlib
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path

from core.integration.entries import ABSENT, ARGS, INSTALLED, MENU_LABEL, OUTDATED, Entry, write_atomically

MARKER = "dovecote integrate"
PBS = Path("/System/Library/CoreServices/pbs")  # refreshes the Services menu without logging out


def shell_script(command: list[str]) -> str:
    return (f"# Written by '{MARKER} install', removed by '{MARKER} uninstall'.\n"
            f'for item in "$@"; do\n'
            f'    [ -d "$item" ] && {shlex.join([*command, *ARGS])} "$item" &\n'
            f"done\n")


def info_plist() -> dict:
    return {
        "NSServices": [{
            "NSMenuItem": {"default": MENU_LABEL},
            "NSMessage": "runWorkflowAsService",
            "NSRequiredContext": {"NSApplicationIdentifier": "com.apple.finder"},
            "NSSendFileTypes": ["public.folder"],
        }],
    }


def document_wflow(command: list[str]) -> dict:
    """An Automator workflow with one "Run Shell Script" action, input passed as arguments."""
    ids = {name: str(uuid.uuid5(uuid.NAMESPACE_URL, f"dovecote:{name}")).upper() for name in ("in", "out", "action")}
    action = {
        "AMAccepts": {"Container": "List", "Optional": True, "Types": ["com.apple.cocoa.string"]},
        "AMActionVersion": "2.0.3",
        "AMApplication": ["Automator"],
        "AMProvides": {"Container": "List", "Types": ["com.apple.cocoa.string"]},
        "ActionBundlePath": "/System/Library/Automator/Run Shell Script.action",
        "ActionName": "Run Shell Script",
        "ActionParameters": {
            "COMMAND_STRING": shell_script(command),
            "CheckedForUserDefaultShell": True,
            "inputMethod": 1,  # as arguments, not on stdin
            "shell": "/bin/sh",
            "source": "",
        },
        "BundleIdentifier": "com.apple.RunShellScript",
        "CFBundleVersion": "2.0.3",
        "CanShowSelectedItemsWhenRun": False,
        "CanShowWhenRun": True,
        "Category": ["AMCategoryUtilities"],
        "Class Name": "RunShellScriptAction",
        "InputUUID": ids["in"],
        "OutputUUID": ids["out"],
        "UUID": ids["action"],
        "UnlocalizedApplications": ["Automator"],
        "isViewVisible": True,
    }
    return {
        "AMApplicationBuild": "521",
        "AMApplicationVersion": "2.10",
        "AMDocumentVersion": "2",
        "actions": [{"action": action, "isViewVisible": True}],
        "connectors": {},
        "workflowMetaData": {
            "serviceApplicationBundleID": "com.apple.finder",
            "serviceApplicationPath": "/System/Library/CoreServices/Finder.app",
            "serviceInputTypeIdentifier": "com.apple.Automator.fileSystemObject.folder",
            "serviceOutputTypeIdentifier": "com.apple.Automator.nothing",
            "serviceProcessesInput": False,
            "workflowTypeIdentifier": "com.apple.Automator.servicesMenu",
        },
    }


class MacIntegration:
    def __init__(self, home: Path, command: list[str]):
        self.command = command
        self.workflow = home / "Library" / "Services" / f"{MENU_LABEL}.workflow"

    def _files(self) -> dict[Path, bytes]:
        contents = self.workflow / "Contents"
        return {contents / "Info.plist": plistlib.dumps(info_plist()),
                contents / "document.wflow": plistlib.dumps(document_wflow(self.command))}

    def install(self) -> list[Entry]:
        for path, data in self._files().items():
            write_atomically(path, data.decode("utf-8"))
        self._refresh_services()
        return self.status()

    def uninstall(self) -> list[Entry]:
        document = self.workflow / "Contents" / "document.wflow"
        if document.exists() and MARKER in document.read_text(encoding="utf-8", errors="replace"):
            shutil.rmtree(self.workflow)
            self._refresh_services()
        return self.status()

    def status(self) -> list[Entry]:
        files = self._files()
        found = {p: p.read_bytes() if p.exists() else None for p in files}
        state = (INSTALLED if found == files else ABSENT if not any(found.values())
                 else OUTDATED)
        return [Entry("Finder Quick Action", str(self.workflow), state)]

    @staticmethod
    def _refresh_services() -> None:
        if PBS.exists():
            subprocess.run([str(PBS), "-update"], check=False, capture_output=True)
