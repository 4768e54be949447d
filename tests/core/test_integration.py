"""The right-click entries: written to a temporary HOME, parsed the way each file manager reads them, and the
command each holds run on a folder with an awkward name, with a stand-in `dovecote` that records its call."""
import configparser
import json
import os
import plistlib
import re
import shlex
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from core.errors import DovecoteError
from core.integration.entries import ABSENT, INSTALLED, OUTDATED, SYSTEM, dovecote_command
from core.integration.linux import DOLPHIN_MENU, OPEN_WITH, THUNAR_ID, LinuxIntegration, system_files
from core.integration.macos import MacIntegration
from core.integration.windows import WindowsIntegration

ODD = 'it\'s "odd" ✓'
NO_PACKAGE = Path("/nonexistent/usr/share")  # no .deb installed entries for all users


@pytest.fixture
def fake_dovecote(tmp_path):
    """A stand-in installed under an awkward path; each call appends its argv and cwd to calls.jsonl."""
    bindir = tmp_path / "my apps $HOME 'x' \\ `y`"
    bindir.mkdir()
    record = tmp_path / "calls.jsonl"
    script = bindir / "dovecote"
    script.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                      f"open({str(record)!r}, 'a').write(json.dumps([sys.argv[1:], os.getcwd()]) + '\\n')\n")
    script.chmod(0o755)
    folder = tmp_path / "photos" / ODD
    folder.mkdir(parents=True)

    def calls():
        lines = record.read_text().splitlines() if record.exists() else []
        return [(argv, Path(cwd)) for argv, cwd in map(json.loads, lines)]

    return script, folder, calls


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


def desktop_exec_argv(value: str, folder: Path) -> list[str]:
    """Split an Exec= value as the Desktop Entry spec says a launcher must, with %f set to `folder`."""
    value = re.sub(r"\\(.)", lambda m: {"s": " ", "n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), value)
    argv, i = [], 0
    while i < len(value):
        if value[i] == " ":
            i += 1
        elif value[i] == '"':
            arg, i = "", i + 1
            while value[i] != '"':
                if value[i] == "\\":  # inside quotes only " ` $ \\ may follow a backslash
                    assert value[i + 1] in '"`$\\', f"bad escape in {value!r}"
                    i += 1
                arg, i = arg + value[i], i + 1
            argv.append(arg.replace("%%", "%"))
            i += 1
        else:
            end = value.find(" ", i) if " " in value[i:] else len(value)
            word = value[i:end]
            argv.append(str(folder) if word == "%f" else word.replace("%%", "%"))
            i = end
    return argv


def read_desktop_file(path: Path, section: str) -> dict[str, str]:
    parser = configparser.RawConfigParser(comment_prefixes=("#",), delimiters=("=",))
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return dict(parser[section])


def test_linux_entries_run_dovecote_classify_gui_on_an_odd_folder(home, fake_dovecote):
    script, folder, calls = fake_dovecote
    entries = LinuxIntegration(home, [str(script)], system_data=NO_PACKAGE).install()
    assert {e.name for e in entries} == {"Nautilus script", "Dolphin service menu", "Open With entry for folders",
                                         "Thunar custom action"}
    assert all(e.state == INSTALLED for e in entries)
    expected = ["classify", "--gui", str(folder)]

    # Nautilus: run in the folder shown, with the selected item's name as argument
    nautilus = home / ".local/share/nautilus/scripts/Classify with Dovecote"
    assert os.stat(nautilus).st_mode & stat.S_IXUSR
    subprocess.run(["/bin/sh", str(nautilus), ODD], cwd=folder.parent, env={"PATH": "/usr/bin:/bin"},
                   check=True, capture_output=True)  # returns once the started command closed the pipe
    argv, cwd = calls()[-1]
    assert (cwd / argv[2]).resolve() == folder and argv[:2] == expected[:2]

    # Dolphin service menu and the .desktop file: Exec parsed as the spec says, %f replaced by the folder
    dolphin = home / ".local/share/kio/servicemenus/dovecote-classify.desktop"
    assert os.stat(dolphin).st_mode & stat.S_IXUSR
    assert read_desktop_file(dolphin, "Desktop Entry")["MimeType"] == "inode/directory;"
    desktop = home / ".local/share/applications/dovecote-classify.desktop"
    assert read_desktop_file(desktop, "Desktop Entry")["MimeType"] == "inode/directory;"
    for exec_value in (read_desktop_file(dolphin, "Desktop Action classifyWithDovecote")["Exec"],
                       read_desktop_file(desktop, "Desktop Entry")["Exec"]):
        subprocess.run(desktop_exec_argv(exec_value, folder), check=True, env={"PATH": "/usr/bin:/bin"})
        assert calls()[-1][0] == expected

    # Thunar: puts the shell-quoted path in place of %f
    action = next(a for a in ET.parse(home / ".config/Thunar/uca.xml").getroot() if a.findtext("unique-id") == THUNAR_ID)
    assert action.find("directories") is not None
    command = action.findtext("command").replace("%f", shlex.quote(str(folder)))
    subprocess.run(shlex.split(command), check=True, env={"PATH": "/usr/bin:/bin"})
    assert calls()[-1][0] == expected
    assert len(calls()) == 4


def test_nautilus_script_without_selection_classifies_the_folder_shown(home, fake_dovecote):
    script, folder, calls = fake_dovecote
    LinuxIntegration(home, [str(script)], system_data=NO_PACKAGE).install()
    nautilus = home / ".local/share/nautilus/scripts/Classify with Dovecote"
    subprocess.run([str(nautilus)], cwd=folder, check=True, capture_output=True)
    assert calls() == [(["classify", "--gui", str(folder)], folder)]


def test_thunar_keeps_the_users_other_actions(home, fake_dovecote):
    script, _, _ = fake_dovecote
    uca = home / ".config/Thunar/uca.xml"
    uca.parent.mkdir(parents=True)
    uca.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<actions>\n<!-- mine -->\n<action><icon>utilities-terminal'
                   '</icon><name>Open Terminal Here</name><unique-id>1-1</unique-id><command>exo-open --launch '
                   'TerminalEmulator</command><description/><patterns>*</patterns><directories/></action>\n</actions>\n')
    integration = LinuxIntegration(home, [str(script)], system_data=NO_PACKAGE)
    integration.install()
    integration.install()  # twice: still one entry of ours
    ids = [a.findtext("unique-id") for a in ET.parse(uca).getroot()]
    assert ids == ["1-1", THUNAR_ID]
    assert all(e.state == ABSENT for e in integration.uninstall())
    assert [a.findtext("name") for a in ET.parse(uca).getroot()] == ["Open Terminal Here"]
    assert "<!-- mine -->" in uca.read_text()


def test_linux_status_and_uninstall_leave_files_that_are_not_ours(home, fake_dovecote, tmp_path):
    script, _, _ = fake_dovecote
    integration = LinuxIntegration(home, [str(script)], system_data=NO_PACKAGE)
    assert {e.state for e in integration.status()} == {ABSENT}
    integration.install()
    moved = LinuxIntegration(home, [str(tmp_path / "elsewhere" / "dovecote")], system_data=NO_PACKAGE)
    assert {e.state for e in moved.status()} == {OUTDATED}  # installed by another copy of dovecote
    someone_elses = home / ".local/share/applications/dovecote-classify.desktop"
    someone_elses.write_text("[Desktop Entry]\nName=Not ours\n")
    integration.uninstall()
    assert someone_elses.exists()
    assert not (home / ".local/share/nautilus/scripts/Classify with Dovecote").exists()


def test_linux_follows_xdg_folders(tmp_path, fake_dovecote):
    script, _, _ = fake_dovecote
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "conf")}
    LinuxIntegration(tmp_path / "home", [str(script)], env, NO_PACKAGE).install()
    assert (tmp_path / "data/kio/servicemenus/dovecote-classify.desktop").exists()
    assert (tmp_path / "conf/Thunar/uca.xml").exists()


def install_package_files(system_data: Path, command: list[str]) -> None:
    """What dpkg unpacks from the .deb (packaging/deb.py stages core.integration.linux.system_files)."""
    for relative, (content, mode) in system_files(command).items():
        (system_data / relative).parent.mkdir(parents=True, exist_ok=True)
        (system_data / relative).write_text(content, encoding="utf-8")
        (system_data / relative).chmod(mode)


def test_the_package_entries_for_all_users_classify_a_folder(tmp_path, fake_dovecote):
    script, folder, calls = fake_dovecote
    system = tmp_path / "usr/share"
    install_package_files(system, [str(script)])
    assert set(system_files([str(script)])) == {DOLPHIN_MENU, OPEN_WITH}
    assert os.stat(system / DOLPHIN_MENU).st_mode & stat.S_IXOTH  # Dolphin runs only executable service menus
    dolphin = read_desktop_file(system / DOLPHIN_MENU, "Desktop Action classifyWithDovecote")
    opener = read_desktop_file(system / OPEN_WITH, "Desktop Entry")
    assert opener["MimeType"] == "inode/directory;" and opener["NoDisplay"] == "true"
    for exec_value in (dolphin["Exec"], opener["Exec"]):
        subprocess.run(desktop_exec_argv(exec_value, folder), check=True, env={"PATH": "/usr/bin:/bin"})
        assert calls()[-1][0] == ["classify", "--gui", str(folder)]
    assert "removed with it" in (system / OPEN_WITH).read_text()


def test_with_the_package_installed_the_app_adds_only_what_is_per_user(home, tmp_path, fake_dovecote):
    script, _, _ = fake_dovecote
    system = tmp_path / "usr/share"
    before = LinuxIntegration(home, [str(script)], system_data=system)
    before.install()  # as from a pip install: all four per user
    install_package_files(system, ["/usr/bin/dovecote"])  # then the .deb
    entries = {e.name: e for e in LinuxIntegration(home, [str(script)], system_data=system).install()}
    assert {n: e.state for n, e in entries.items()} == {
        "Nautilus script": INSTALLED, "Thunar custom action": INSTALLED,
        "Dolphin service menu (all users)": SYSTEM, "Open With entry for folders (all users)": SYSTEM}
    assert entries["Dolphin service menu (all users)"].location == str(system / DOLPHIN_MENU)
    # the per-user copies would have shown the entry twice: gone
    assert not (home / ".local/share" / DOLPHIN_MENU).exists() and not (home / ".local/share" / OPEN_WITH).exists()
    after = {e.name: e.state for e in LinuxIntegration(home, [str(script)], system_data=system).uninstall()}
    assert after["Nautilus script"] == after["Thunar custom action"] == ABSENT
    assert (system / DOLPHIN_MENU).is_file() and (system / OPEN_WITH).is_file()  # only dpkg -r removes those
    assert not (home / ".local/share/nautilus/scripts/Classify with Dovecote").exists()


class FakeRegistry:
    def __init__(self):
        self.values = {}

    def get(self, key, name):
        return self.values.get((key, name))

    def set(self, key, name, data):
        self.values[(key, name)] = data

    def delete_tree(self, key):
        self.values = {k: v for k, v in self.values.items() if not (k[0] == key or k[0].startswith(key + "\\"))}


def test_windows_registry_keys_for_folders_and_folder_backgrounds():
    registry = FakeRegistry()
    registry.set("Software\\Classes\\Directory\\shell\\Other", "", "someone else's")
    exe = "C:\\Program Files\\Dovecote\\dovecote.exe"
    integration = WindowsIntegration([exe], registry)
    assert all(e.state == INSTALLED for e in integration.install())
    values = registry.values
    base = "Software\\Classes\\Directory"
    assert values[(f"{base}\\shell\\DovecoteClassify", "")] == "Classify with Dovecote"
    assert values[(f"{base}\\shell\\DovecoteClassify\\command", "")] == f'"{exe}" classify --gui "%1"'
    assert values[(f"{base}\\Background\\shell\\DovecoteClassify\\command", "")] == f'"{exe}" classify --gui "%V"'
    assert values[(f"{base}\\shell\\DovecoteClassify", "Icon")] == exe
    assert {e.state for e in WindowsIntegration(["D:\\new\\dovecote.exe"], registry).status()} == {OUTDATED}
    assert all(e.state == ABSENT for e in integration.uninstall())
    assert list(registry.values) == [("Software\\Classes\\Directory\\shell\\Other", "")]


def test_macos_quick_action_runs_on_an_odd_folder(tmp_path, fake_dovecote):
    script, folder, calls = fake_dovecote
    integration = MacIntegration(tmp_path / "home", [str(script)])
    assert integration.install()[0].state == INSTALLED
    contents = tmp_path / "home/Library/Services/Classify with Dovecote.workflow/Contents"
    service = plistlib.loads((contents / "Info.plist").read_bytes())["NSServices"][0]
    assert service["NSMenuItem"]["default"] == "Classify with Dovecote"
    assert service["NSSendFileTypes"] == ["public.folder"]
    workflow = plistlib.loads((contents / "document.wflow").read_bytes())
    assert workflow["workflowMetaData"]["serviceInputTypeIdentifier"] == "com.apple.Automator.fileSystemObject.folder"
    parameters = workflow["actions"][0]["action"]["ActionParameters"]
    assert parameters["inputMethod"] == 1  # the folders arrive as arguments
    subprocess.run([parameters["shell"], "-c", parameters["COMMAND_STRING"], "sh", str(folder)],
                   check=True, capture_output=True, env={"PATH": "/usr/bin:/bin"})
    assert calls() == [(["classify", "--gui", str(folder)], Path.cwd())]
    assert integration.uninstall()[0].state == ABSENT
    assert not contents.exists()


def test_the_installed_command_is_found_by_absolute_path(tmp_path, monkeypatch):
    launcher = tmp_path / "bin" / "dovecote"
    launcher.parent.mkdir()
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["bin/dovecote", "integrate", "install"])
    assert dovecote_command() == [str(launcher.resolve())]
    monkeypatch.setattr(sys, "argv", ["pytest"])
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DovecoteError, match="--command"):
        dovecote_command()
