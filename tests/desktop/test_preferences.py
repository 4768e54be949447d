"""Right-click entries without a terminal: the first start's offer (once) and Edit → Preferences, which add and
remove them, checked on the files each file manager reads (a temporary HOME and /usr/share)."""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from core.integration.linux import DOLPHIN_MENU, OPEN_WITH, THUNAR_ID, LinuxIntegration, system_files
from desktop.project.settings import AppSettings
from desktop.window import preferences
from desktop.window.file_manager_offer import offer_file_manager_entries
from desktop.window.preferences import PreferencesDialog


@pytest.fixture
def linux(tmp_path):
    """A factory of the Linux integration over a temporary HOME and /usr/share, calling a stand-in program."""
    program = tmp_path / "bin" / "dovecote"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    home, system = tmp_path / "home", tmp_path / "usr" / "share"

    def factory():
        return LinuxIntegration(home, [str(program)], env={}, system_data=system)

    factory.home, factory.system = home, system
    return factory


def per_user_files(home: Path) -> dict[str, bool]:
    data = home / ".local/share"
    thunar = home / ".config/Thunar/uca.xml"
    ours = thunar.exists() and any(a.findtext("unique-id") == THUNAR_ID for a in ET.parse(thunar).getroot())
    return {"nautilus": (data / "nautilus/scripts/Classify with Dovecote").exists(), "thunar": ours,
            "dolphin": (data / DOLPHIN_MENU).exists(), "open with": (data / OPEN_WITH).exists()}


def test_preferences_add_and_remove_the_entries(qtbot, linux):
    dialog = PreferencesDialog(integration_factory=linux)
    qtbot.addWidget(dialog)
    assert "Nautilus script: not added" in dialog.entries.text() and not dialog.remove_button.isEnabled()
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert per_user_files(linux.home) == {"nautilus": True, "thunar": True, "dolphin": True, "open with": True}
    assert "Thunar custom action: added" in dialog.entries.text() and "added" in dialog.message.text()
    assert not dialog.add_button.isEnabled() and dialog.remove_button.isEnabled()
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    assert not any(per_user_files(linux.home).values())
    assert "Nautilus script: not added" in dialog.entries.text() and dialog.add_button.isEnabled()


def test_with_the_package_installed_preferences_leave_its_entries_alone(qtbot, linux):
    for relative, (content, _mode) in system_files(["/usr/bin/dovecote"]).items():
        (linux.system / relative).parent.mkdir(parents=True, exist_ok=True)
        (linux.system / relative).write_text(content)
    dialog = PreferencesDialog(integration_factory=linux)
    qtbot.addWidget(dialog)
    assert "Dolphin service menu (all users): added for all users by the installed package" in dialog.entries.text()
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert per_user_files(linux.home) == {"nautilus": True, "thunar": True, "dolphin": False, "open with": False}
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    assert not any(per_user_files(linux.home).values())
    assert all((linux.system / relative).exists() for relative in (DOLPHIN_MENU, OPEN_WITH))


def test_without_an_installed_program_the_dialog_says_why(qtbot):
    from core.errors import DovecoteError

    def nothing_to_call():
        raise DovecoteError("Cannot find the installed 'dovecote' command for the file manager to call.")

    dialog = PreferencesDialog(integration_factory=nothing_to_call)
    qtbot.addWidget(dialog)
    assert "Cannot find the installed 'dovecote'" in dialog.message.text()
    assert not dialog.add_button.isEnabled() and not dialog.remove_button.isEnabled()


def answer(box: QMessageBox, text: str) -> None:
    button = next(b for b in box.buttons() if b.text() == text)
    button.click()


def test_the_first_start_offers_the_entries_once(qtbot, window, linux):
    settings = AppSettings()
    box = offer_file_manager_entries(window, settings, linux, platform="linux")
    assert box is not None and box.isVisible() and "right-click menu" in box.text()
    assert "Edit → Preferences" in box.informativeText()
    answer(box, "Add to the Menu")
    assert per_user_files(linux.home) == {"nautilus": True, "thunar": True, "dolphin": True, "open with": True}
    assert "is on the right-click menu" in window.statusBar().currentMessage()
    # the next start: remembered, not asked again, even after the entries were removed
    linux().uninstall()
    assert offer_file_manager_entries(window, AppSettings(), linux, platform="linux") is None


def test_not_now_is_remembered_and_writes_nothing(qtbot, window, linux):
    box = offer_file_manager_entries(window, AppSettings(), linux, platform="linux")
    answer(box, "Not Now")
    assert not any(per_user_files(linux.home).values())
    assert AppSettings().file_manager_offered()
    assert offer_file_manager_entries(window, AppSettings(), linux, platform="linux") is None


def test_no_offer_where_there_is_nothing_to_offer(qtbot, window, linux):
    assert offer_file_manager_entries(window, AppSettings(), linux, platform="win32") is None  # setup asked
    assert not AppSettings().file_manager_offered()
    linux().install()  # added already (from the command line, say)
    assert offer_file_manager_entries(window, AppSettings(), linux, platform="linux") is None
    assert AppSettings().file_manager_offered()


@pytest.mark.skipif(sys.platform == "darwin", reason="⌘, there")
def test_ctrl_comma_opens_preferences_from_the_edit_menu(qtbot, window, linux, monkeypatch):
    monkeypatch.setattr(preferences, "for_this_system", linux)
    edit = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    assert window.menus.preferences in edit.actions()
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.findChild(PreferencesDialog, "preferencesDialog") is not None)
    dialog = window.findChild(PreferencesDialog, "preferencesDialog")
    assert dialog.isVisible() and "Nautilus script: not added" in dialog.entries.text()
    dialog.close()
