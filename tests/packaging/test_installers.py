"""The installers' own files: the Linux .desktop entry, .deb tree and the libraries it checks and depends on,
the NSIS script against the programs the spec builds (compiled, where makensis is installed), the macOS .dmg
steps, and the app icon."""
import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import app_icon
import bundle
import deb
import system_libs
import windows_installer
from core.integration.linux import DOLPHIN_MENU, OPEN_WITH, system_files

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="makes symbolic links and runs a shell script")


def desktop_entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(deb.DESKTOP_FILE, encoding="utf-8")
    return dict(parser["Desktop Entry"])


@pytest.fixture
def icons(tmp_path):
    return app_icon.make_icons(bundle.ICON_SVG, tmp_path / "icons")


@pytest.fixture
def fake_app(tmp_path):
    """A stand-in for PyInstaller's folder: the program and one library."""
    app = tmp_path / "dist" / bundle.DIST_NAME
    (app / "_internal").mkdir(parents=True)
    (app / bundle.CLI_NAME).write_text("#!/bin/sh\necho dovecote \"$@\"\n")
    (app / bundle.CLI_NAME).chmod(0o755)
    (app / "_internal" / "libexample.so").write_bytes(b"\x7fELF" + b"\0" * 12 + b"GLIBC_2.28\0GLIBC_2.34\0")
    return app


def test_desktop_entry_is_valid_and_starts_the_installed_window():
    entry = desktop_entry()
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert shlex.split(entry["Exec"]) == [f"/usr/bin/{bundle.CLI_NAME}", "gui"]
    assert entry["Icon"] == "dovecote"
    # desktop/app.py names the window's desktop file "dovecote": docks match the window to this entry.
    assert 'setDesktopFileName("dovecote")' in (bundle.ROOT / "desktop" / "app.py").read_text(encoding="utf-8")
    assert deb.DESKTOP_FILE.name == "dovecote.desktop"
    if shutil.which("desktop-file-validate"):
        checked = subprocess.run(["desktop-file-validate", str(deb.DESKTOP_FILE)], capture_output=True, text=True)
        assert checked.returncode == 0 and "error" not in checked.stdout, checked.stdout


@posix_only
def test_deb_tree_puts_the_program_on_path_and_the_entry_and_icons_where_desktops_look(fake_app, icons, tmp_path):
    root = deb.stage(fake_app, icons, tmp_path / "root")
    link = root / "usr/bin" / bundle.CLI_NAME
    assert link.is_symlink() and not Path(link.readlink()).is_absolute()  # works unpacked anywhere
    program = root / shlex.split(desktop_entry()["Exec"])[0].lstrip("/")
    assert program.resolve() == (root / deb.INSTALL_DIR / bundle.CLI_NAME).resolve()
    assert subprocess.run([str(program), "gui"], capture_output=True, text=True).stdout == "dovecote gui\n"
    installed = root / "usr/share/applications/dovecote.desktop"
    assert installed.read_bytes() == deb.DESKTOP_FILE.read_bytes()
    icon = desktop_entry()["Icon"]
    assert (root / f"usr/share/icons/hicolor/scalable/apps/{icon}.svg").is_file()
    assert Image.open(root / f"usr/share/icons/hicolor/256x256/apps/{icon}.png").size == (256, 256)
    # "Classify with Dovecote" for all users, calling the program on PATH; dpkg -r removes these files
    for relative, (content, mode) in system_files(["/usr/bin/dovecote"]).items():
        entry = root / "usr/share" / relative
        assert entry.read_text(encoding="utf-8") == content and entry.stat().st_mode & 0o777 == mode
    assert {DOLPHIN_MENU, OPEN_WITH} == set(system_files(["/usr/bin/dovecote"]))
    assert '"/usr/bin/dovecote" "classify" "--gui" %f' in (root / "usr/share" / OPEN_WITH).read_text()


def test_deb_needs_the_newest_glibc_its_libraries_ask_for(fake_app):
    assert deb.min_glibc(fake_app) == "2.34"
    fields = deb.control("1.2.3", "amd64", 10, "2.34", "Classify images")
    depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1).split(", ")
    assert depends[0] == "libc6 (>= 2.34)" and "libgl1" in depends


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")
def test_deb_package_holds_the_tree_and_its_control_fields(fake_app, icons, tmp_path):
    package = deb.build(fake_app, icons, tmp_path / "work", tmp_path, "1.2.3", "Classify images")
    assert package.name.startswith("dovecote_1.2.3_")
    info = subprocess.run(["dpkg-deb", "--field", str(package), "Package", "Version", "Depends"],
                          capture_output=True, text=True, check=True).stdout
    assert "Version: 1.2.3" in info and "libc6 (>= 2.34)" in info
    listing = subprocess.run(["dpkg-deb", "--contents", str(package)], capture_output=True, text=True,
                             check=True).stdout
    assert f"./usr/bin/dovecote -> ../../opt/{bundle.DIST_NAME}/dovecote" in listing
    assert "-rwxr-xr-x root/root" in next(line for line in listing.splitlines()
                                           if line.endswith(f"./opt/{bundle.DIST_NAME}/dovecote"))
    assert "./usr/share/kio/servicemenus/dovecote-classify.desktop" in listing
    members = subprocess.run(["ar", "t", str(package)], capture_output=True, text=True, check=True).stdout.split()
    assert members == ["debian-binary", "control.tar.zst", "data.tar.zst"]


def test_a_missing_qt_library_is_installed_on_debian_or_named(monkeypatch, tmp_path):
    missing = {"libxcb-cursor.so.0"}
    installed = []
    monkeypatch.setattr(system_libs, "missing_for_qt", lambda qt_dir: set(missing))
    monkeypatch.setattr(system_libs, "_is_debian", lambda: False)
    monkeypatch.setattr(system_libs, "_as_root", lambda: [])
    with pytest.raises(system_libs.MissingLibraries, match=r"libxcb-cursor\.so\.0 .*apt-get install libxcb-cursor0"):
        system_libs.check_build_machine(tmp_path)

    def apt_get(args, check, env):
        installed.extend(args[4:])
        missing.clear()

    monkeypatch.setattr(system_libs, "_is_debian", lambda: True)
    monkeypatch.setattr(system_libs, "_as_root", lambda: [])
    monkeypatch.setattr(system_libs.subprocess, "run", apt_get)
    assert system_libs.check_build_machine(tmp_path) == ["libxcb-cursor0"] == installed
    missing.update({"libnever-heard-of.so.3"})  # no package known: never guessed, named
    with pytest.raises(system_libs.MissingLibraries, match="libnever-heard-of.so.3"):
        system_libs.check_build_machine(tmp_path)


@pytest.mark.skipif(shutil.which("dpkg-query") is None or shutil.which("ldd") is None, reason="not Debian")
def test_deb_depends_on_the_packages_of_the_libraries_loaded_from_outside_the_bundle(tmp_path):
    app = tmp_path / "app"
    (app / "_internal").mkdir(parents=True)
    program = Path(sys.executable).resolve()
    shutil.copy(program, app / "python")
    outside = system_libs.outside_libraries(app)
    assert "libc.so.6" in outside and all(where is None or not where.startswith(str(app)) for where in outside.values())
    packages = system_libs.system_packages(app)
    assert "libc6" not in packages  # that one is Depends' first entry, with its version
    for name in system_libs.ldd(program):  # a library carried in the bundle is no dependency
        if name.startswith("libpython"):
            shutil.copy(system_libs.ldd(program)[name], app / "_internal" / name)
            assert name not in system_libs.outside_libraries(app)


def nsi_defines() -> dict[str, str]:
    return dict(re.findall(r'^!define (\w+) "([^"]*)"', windows_installer.NSI.read_text(encoding="utf-8"), re.M))


def test_nsis_script_installs_the_programs_the_spec_builds_for_windows_per_user():
    names = {console: f"{name}.exe" for name, console in bundle.executables("win32")}
    defines = nsi_defines()
    assert defines["CliExe"] == names[True] and defines["GuiExe"] == names[False]
    text = windows_installer.NSI.read_text(encoding="utf-8")
    assert "RequestExecutionLevel user" in text and 'InstallDir "$LOCALAPPDATA\\Programs\\${AppName}"' in text
    assert "HKLM" not in text  # nothing that needs an administrator
    shortcuts = re.findall(r"^\s*CreateShortcut (.*)$", text, re.M)
    assert shortcuts == ['"$SMPROGRAMS\\${AppName}.lnk" "$INSTDIR\\${GuiExe}"',
                         '"$DESKTOP\\${AppName}.lnk" "$INSTDIR\\${GuiExe}"']  # no console window
    sections = dict(re.findall(r"^Section (/o )?[^\n]*? (Section\w+)$", text, re.M)[i][::-1] for i in range(3))
    assert sections == {"SectionApp": "", "SectionDesktop": "/o ", "SectionContextMenu": ""}  # desktop icon: opt-in
    # The right-click entries: the app's own `integrate` (the registry keys core/integration/windows.py writes),
    # calling the windowed program; the uninstaller removes them first, then only the files it installed.
    assert """'"$INSTDIR\\${CliExe}" integrate install --command "$INSTDIR\\${GuiExe}"'""" in text
    uninstall = text[text.index('Section "Uninstall"'):]
    assert uninstall.index("integrate uninstall") < uninstall.index('!include "${UninstallList}"')
    assert "RMDir /r" not in text


def test_build_script_defines_everything_the_nsis_script_uses(build_script, monkeypatch, tmp_path):
    commands = []
    monkeypatch.setattr(windows_installer, "find_makensis", lambda: "makensis")
    monkeypatch.setattr(windows_installer.subprocess, "run", lambda args, check: commands.append(args))
    app = windows_installer.standin_app(tmp_path / "dovecote")
    icons = {"ico": tmp_path / "dovecote.ico"}
    installer = build_script.build_windows(app, icons, tmp_path / "work", tmp_path / "dist", "1.2.3")
    (command,) = commands
    passed = dict(arg[2:].split("=", 1) for arg in command if arg.startswith("-D"))
    assert passed["AppVersion"] == "1.2.3" and passed["AppDir"] == str(app) and passed["IconFile"] == str(icons["ico"])
    assert command[-1] == str(windows_installer.NSI) and passed["OutFile"] == str(installer)
    assert installer == tmp_path / "dist" / "Dovecote-1.2.3-setup.exe"
    used = set(re.findall(r"\$\{(\w+)\}", windows_installer.NSI.read_text(encoding="utf-8")))
    used -= {"If", "EndIf"}  # LogicLib's
    assert used <= set(passed) | set(nsi_defines())


def test_uninstaller_removes_exactly_the_installed_files_then_the_folders_they_leave_empty(tmp_path):
    app = windows_installer.standin_app(tmp_path / "dovecote")
    lines = windows_installer.uninstall_list(app).splitlines()
    deleted = [line[len('Delete "$INSTDIR\\'):-1] for line in lines if line.startswith("Delete ")]
    folders = [line[len('RMDir "$INSTDIR\\'):-1] for line in lines if line.startswith("RMDir ")]
    on_disk = {str(p.relative_to(app)).replace("/", "\\") for p in app.rglob("*") if p.is_file()}
    assert set(deleted) == on_disk and len(deleted) == len(on_disk)
    assert set(folders) == {str(p.relative_to(app)).replace("/", "\\") for p in app.rglob("*") if p.is_dir()}
    for i, folder in enumerate(folders):  # a folder is removed after every folder inside it
        assert not any(f.startswith(folder + "\\") for f in folders[i + 1:]), folder
    assert lines.index(f'Delete "$INSTDIR\\{deleted[-1]}"') < lines.index(f'RMDir "$INSTDIR\\{folders[0]}"')


@pytest.mark.skipif(windows_installer.find_makensis() is None, reason="NSIS's makensis is not installed")
def test_setup_program_compiles_against_a_folder_laid_out_like_the_windows_app(icons, tmp_path):
    app = windows_installer.standin_app(tmp_path / "dovecote")
    setup = windows_installer.build(app, icons["ico"], tmp_path / "work", tmp_path / "dist", "1.2.3",
                                    windows_installer.find_makensis())
    data = setup.read_bytes()
    assert data[:2] == b"MZ" and len(data) > 50_000  # a Windows program, holding the stand-in files
    version = "ProductVersion\0001.2.3".encode("utf-16-le")
    assert version in data  # its version resource (Windows shows it in the file's properties)


@posix_only
def test_macos_image_holds_the_app_and_a_link_to_applications(build_script, monkeypatch, tmp_path):
    commands = []
    monkeypatch.setattr(build_script.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(build_script.subprocess, "run", lambda args, check: commands.append(args))
    dmg = build_script.build_macos(tmp_path / "dist", tmp_path / "work", "1.2.3")
    copy, create = commands
    stage = tmp_path / "work" / "dmg"
    assert copy == ["ditto", str(tmp_path / "dist" / "Dovecote.app"), str(stage / "Dovecote.app")]
    assert create[:2] == ["hdiutil", "create"] and create[-1] == str(dmg) and dmg.name == "Dovecote-1.2.3.dmg"
    assert create[create.index("-srcfolder") + 1] == str(stage) and create[create.index("-format") + 1] == "UDZO"
    assert (stage / "Applications").readlink() == Path("/Applications")


def test_app_icon_is_drawn_at_every_size_installers_use(icons):
    png = Image.open(icons["png"])
    assert png.size == (256, 256) and png.getpixel((128, 128))[3] == 255  # drawn, not left transparent
    assert png.getpixel((0, 0))[3] == 0  # the rounded corner stays transparent
    assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= Image.open(icons["ico"]).info["sizes"]
    assert Image.open(icons["icns"]).size == (1024, 1024)


def test_default_backbone_needs_no_torchvision():
    """What the lean installer relies on: EfficientNet-Lite0 with its bundled weights, torchvision absent."""
    code = ("import sys; sys.modules['torchvision'] = None\n"  # any import of it now fails
            "import torch\n"
            "from core.models.backbone_nets import build_feature_extractor\n"
            "from core.models.backbones import DEFAULT_BACKBONE, get_backbone\n"
            "spec = get_backbone(DEFAULT_BACKBONE)\n"
            "size = spec.preprocessing.input_size\n"
            "with torch.no_grad():\n"
            "    out = build_feature_extractor(spec)(torch.zeros(1, 3, size, size))\n"
            "print(tuple(out.shape) == (1, spec.feature_dim))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=bundle.ROOT, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "True"
