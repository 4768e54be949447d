"""Windows: per-user registry keys (HKEY_CURRENT_USER, no administrator rights) that add the entry to a
folder's right-click menu (Directory\\shell) and to the menu of a folder's empty background
(Directory\\Background\\shell)."""
from __future__ import annotations

import subprocess

from core.integration.entries import ABSENT, ARGS, INSTALLED, MENU_LABEL, OUTDATED, Entry

CLASSES = "Software\\Classes"
VERB = "DovecoteClassify"
# Explorer puts the clicked folder in %1, and the folder whose background was clicked in %V.
PLACES = {f"{CLASSES}\\Directory\\shell\\{VERB}": "%1",
          f"{CLASSES}\\Directory\\Background\\shell\\{VERB}": "%V"}


def registry_values(command: list[str]) -> dict[tuple[str, str], str]:
    """(key under HKEY_CURRENT_USER, value name; "" is the default value) → string data."""
    values = {}
    for key, placeholder in PLACES.items():
        values[(key, "")] = MENU_LABEL
        values[(key, "Icon")] = command[0]
        # list2cmdline quotes the way the C runtime splits arguments; folder names cannot contain '"'.
        values[(f"{key}\\command", "")] = f'{subprocess.list2cmdline([*command, *ARGS])} "{placeholder}"'
    return values


class WinRegistry:
    """The few registry operations needed, over winreg (imported only on Windows)."""

    def __init__(self):
        import winreg

        self._winreg = winreg

    def get(self, key: str, name: str) -> str | None:
        reg = self._winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, key) as handle:
                return reg.QueryValueEx(handle, name)[0]
        except OSError:
            return None

    def set(self, key: str, name: str, data: str) -> None:
        reg = self._winreg
        with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, key, 0, reg.KEY_WRITE) as handle:
            reg.SetValueEx(handle, name, 0, reg.REG_SZ, data)

    def delete_tree(self, key: str) -> None:
        reg = self._winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, key) as handle:
                subkeys = []
                while True:
                    try:
                        subkeys.append(reg.EnumKey(handle, len(subkeys)))
                    except OSError:
                        break
            for sub in subkeys:
                self.delete_tree(f"{key}\\{sub}")
            reg.DeleteKey(reg.HKEY_CURRENT_USER, key)
        except FileNotFoundError:
            pass


class WindowsIntegration:
    def __init__(self, command: list[str], registry=None):
        self.command = command
        self.registry = registry or WinRegistry()

    def install(self) -> list[Entry]:
        for (key, name), data in registry_values(self.command).items():
            self.registry.set(key, name, data)
        return self.status()

    def uninstall(self) -> list[Entry]:
        for key in PLACES:
            self.registry.delete_tree(key)
        return self.status()

    def status(self) -> list[Entry]:
        wanted = registry_values(self.command)
        entries = []
        for key, label in zip(PLACES, ("Folder menu", "Folder background menu")):
            mine = {k: v for k, v in wanted.items() if k[0].startswith(key)}
            found = {k: self.registry.get(*k) for k in mine}
            state = (INSTALLED if found == mine else ABSENT if found[(f"{key}\\command", "")] is None
                     else OUTDATED)
            entries.append(Entry(label, f"HKEY_CURRENT_USER\\{key}", state))
        return entries
