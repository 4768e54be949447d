"""Linux: a Nautilus script, a KDE Dolphin service menu, a Thunar custom action and a .desktop file that
offers Dovecote for folders ("Open With" in any file manager).

The .deb installs the Dolphin service menu and the .desktop file for all users under /usr/share
(system_files(), staged by packaging/deb.py; dpkg removes them with the package). Nautilus scripts and Thunar
actions exist only per user, so the app writes those (install(); nothing needs root), and the two others too
where no package put them there."""
from __future__ import annotations

import os
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

from core.errors import DovecoteError
from core.integration.entries import (
    ABSENT,
    ARGS,
    DESCRIPTION,
    INSTALLED,
    MENU_LABEL,
    OUTDATED,
    SYSTEM,
    Entry,
    write_atomically,
)

MARKER = "dovecote integrate"  # in every file we write: proof that a file is ours to replace or remove
THUNAR_ID = "dovecote-classify-folder"
ICON = "folder-pictures"  # a standard icon name every icon theme has
SYSTEM_DATA = Path("/usr/share")  # where a package puts entries for all users (the first of XDG_DATA_DIRS it owns)
DOLPHIN_MENU = Path("kio/servicemenus/dovecote-classify.desktop")  # under a data folder (XDG_DATA_HOME or /usr/share)
OPEN_WITH = Path("applications/dovecote-classify.desktop")
PER_USER = f"Written by '{MARKER} install', removed by '{MARKER} uninstall'."
FROM_PACKAGE = "Installed for all users by the dovecote package, removed with it."


def desktop_exec(argv: list[str]) -> str:
    """An Exec= value (Desktop Entry spec): every argument double-quoted with " ` $ \\ escaped, % doubled,
    then backslashes escaped once more because the value is itself an escaped string."""
    quoted = ['"' + re.sub(r'([`"$\\])', r"\\\1", arg).replace("%", "%%") + '"' for arg in argv]
    return " ".join(quoted).replace("\\", "\\\\")


def system_files(command: list[str]) -> dict[Path, tuple[str, int]]:
    """What a package installs for all users: {path under /usr/share: (content, mode)}."""
    return {DOLPHIN_MENU: (_dolphin(command, FROM_PACKAGE), 0o755),
            OPEN_WITH: (_desktop_entry(command, FROM_PACKAGE), 0o644)}


class LinuxIntegration:
    def __init__(self, home: Path, command: list[str], env: dict[str, str] | None = None,
                 system_data: Path = SYSTEM_DATA):
        env = os.environ if env is None else env
        data = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME", "").startswith("/") else home / ".local/share"
        config = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME", "").startswith("/") else home / ".config"
        self.command = command
        self.nautilus_script = data / "nautilus" / "scripts" / MENU_LABEL
        self.dolphin_menu = data / DOLPHIN_MENU
        self.desktop_file = data / OPEN_WITH
        self.thunar_actions = config / "Thunar" / "uca.xml"
        self.system_data = system_data

    def _files(self) -> list[tuple[str, Path, str, int]]:
        """(name, path, content, mode) of each file-based entry."""
        return [
            ("Nautilus script", self.nautilus_script, self._nautilus(), 0o755),
            # Dolphin (KDE Frameworks >= 5.85) runs only service menus that are executable.
            ("Dolphin service menu", self.dolphin_menu, _dolphin(self.command, PER_USER), 0o755),
            ("Open With entry for folders", self.desktop_file, _desktop_entry(self.command, PER_USER), 0o644),
        ]

    def _from_package(self, path: Path) -> Path | None:
        """The copy for all users of a per-user entry at `path`, when a package installed it."""
        for relative in (DOLPHIN_MENU, OPEN_WITH):
            if path.as_posix().endswith(relative.as_posix()) and (self.system_data / relative).is_file():
                return self.system_data / relative
        return None

    def install(self) -> list[Entry]:
        for _, path, content, mode in self._files():
            if self._from_package(path) is None:
                write_atomically(path, content, mode)
            else:  # the package's copy serves: a second one would show the entry twice
                self._remove_ours(path)
        self._write_thunar(add=True)
        return self.status()

    def uninstall(self) -> list[Entry]:
        for _, path, _, _ in self._files():
            self._remove_ours(path)
        if self._thunar_action() is not None:
            self._write_thunar(add=False)
        return self.status()

    @staticmethod
    def _remove_ours(path: Path) -> None:
        if path.exists() and MARKER in path.read_text(encoding="utf-8", errors="replace"):
            path.unlink()

    def status(self) -> list[Entry]:
        """Each entry's state; one installed by the package is SYSTEM (only removing the package removes it)."""
        entries = []
        for name, path, content, _ in self._files():
            system = self._from_package(path)
            if system is not None:
                entries.append(Entry(f"{name} (all users)", str(system), SYSTEM))
                continue
            text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
            state = INSTALLED if text == content else OUTDATED if MARKER in text else ABSENT
            entries.append(Entry(name, str(path), state))
        ours = self._thunar_action()
        state = ABSENT if ours is None else INSTALLED if ours.findtext("command") == self._thunar_command() else OUTDATED
        entries.append(Entry("Thunar custom action", str(self.thunar_actions), state))
        return entries

    # ---- the contents

    def _nautilus(self) -> str:
        command = shlex.join([*self.command, *ARGS])
        return f"""#!/bin/sh
# {MENU_LABEL}: written by '{MARKER} install', removed by '{MARKER} uninstall'.
# Nautilus runs scripts in the folder shown, with the selected items as arguments.
[ "$#" -eq 0 ] && set -- "$PWD"
for item in "$@"; do
    [ -d "$item" ] && {command} "$item" &
done
"""

    def _thunar_command(self) -> str:
        # Thunar shell-quotes what it puts in place of %f.
        return f"{shlex.join([*self.command, *ARGS])} %f"

    # ---- Thunar keeps all custom actions in one file: change only ours

    def _thunar_tree(self) -> ET.ElementTree | None:
        if not self.thunar_actions.exists():
            return None
        try:
            parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
            return ET.parse(self.thunar_actions, parser)
        except (ET.ParseError, OSError) as error:
            raise DovecoteError(f"Cannot read Thunar's custom actions {self.thunar_actions} ({error}); "
                                "it was left as it is. Fix or remove it, then try again.") from None

    def _thunar_action(self) -> ET.Element | None:
        tree = self._thunar_tree()
        if tree is None:
            return None
        return next((a for a in tree.getroot().iter("action") if a.findtext("unique-id") == THUNAR_ID), None)

    def _write_thunar(self, add: bool) -> None:
        """Remove our action from uca.xml, then (installing) add the current one; other actions stay."""
        tree = self._thunar_tree() or ET.ElementTree(ET.Element("actions"))
        root = tree.getroot()
        for action in [a for a in root.findall("action") if a.findtext("unique-id") == THUNAR_ID]:
            root.remove(action)
        if add:
            action = ET.SubElement(root, "action")
            for tag, text in (("icon", ICON), ("name", MENU_LABEL), ("submenu", ""), ("unique-id", THUNAR_ID),
                              ("command", self._thunar_command()), ("description", DESCRIPTION),
                              ("range", ""), ("patterns", "*")):
                ET.SubElement(action, tag).text = text
            ET.SubElement(action, "directories")
        ET.indent(tree)
        text = ET.tostring(root, encoding="unicode", xml_declaration=False)
        write_atomically(self.thunar_actions, f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n')


# ---- the two entries a package may install for all users, or the app per user


def _dolphin(command: list[str], origin: str) -> str:
    return f"""[Desktop Entry]
# {origin}
Type=Service
MimeType=inode/directory;
Actions=classifyWithDovecote;
X-KDE-Priority=TopLevel

[Desktop Action classifyWithDovecote]
Name={MENU_LABEL}
Icon={ICON}
Exec={desktop_exec([*command, *ARGS])} %f
"""


def _desktop_entry(command: list[str], origin: str) -> str:
    # NoDisplay: offered for folders ("Open With"), not listed among the applications.
    return f"""[Desktop Entry]
# {origin}
Type=Application
Name={MENU_LABEL}
Comment={DESCRIPTION}
Icon={ICON}
Exec={desktop_exec([*command, *ARGS])} %f
MimeType=inode/directory;
NoDisplay=true
Terminal=false
"""
