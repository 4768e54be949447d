"""The installers' own files: the Linux .desktop entry and .deb tree, the Inno Setup script against the
programs the spec builds, the macOS .dmg steps, and the app icon."""
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

ISS = bundle.ROOT / "packaging" / "windows" / "dovecote.iss"
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


def iss_defines() -> dict[str, str]:
    return dict(re.findall(r'^#define (\w+) "([^"]*)"', ISS.read_text(encoding="utf-8"), re.M))


def test_inno_script_installs_the_programs_the_spec_builds_for_windows():
    names = {console: f"{name}.exe" for name, console in bundle.executables("win32")}
    defines = iss_defines()
    assert defines["CliExe"] == names[True] and defines["GuiExe"] == names[False]
    text = ISS.read_text(encoding="utf-8")
    icons = re.search(r"^\[Icons\]\n(.*?)\n\n", text, re.M | re.S).group(1).splitlines()
    assert icons and all('Filename: "{app}\\{#GuiExe}"' in line for line in icons)  # shortcuts: no console
    # The right-click entries call the windowed program, written by the app's own `integrate install`.
    assert 'Filename: "{app}\\{#CliExe}"; Parameters: "integrate install --command ""{app}\\{#GuiExe}"""' in text
    assert 'Filename: "{app}\\{#CliExe}"; Parameters: "integrate uninstall"' in text


def test_build_script_defines_everything_the_inno_script_uses(build_script, monkeypatch, tmp_path):
    commands = []
    monkeypatch.setattr(build_script, "find_iscc", lambda: "ISCC.exe")
    monkeypatch.setattr(build_script.subprocess, "run", lambda args, check: commands.append(args))
    icons = {"ico": tmp_path / "dovecote.ico"}
    installer = build_script.build_windows(tmp_path / "dovecote", icons, tmp_path / "dist", "1.2.3")
    (command,) = commands
    passed = dict(arg[2:].split("=", 1) for arg in command if arg.startswith("/D"))
    assert passed == {"AppVersion": "1.2.3", "AppDir": str(tmp_path / "dovecote"), "IconFile": str(icons["ico"])}
    assert command[-1] == str(ISS) and f"/O{tmp_path / 'dist'}" in command
    text = ISS.read_text(encoding="utf-8")
    used = set(re.findall(r"\{#(\w+)\}", text))
    assert used <= set(passed) | set(iss_defines())
    base = re.search(r"^OutputBaseFilename=(.*)$", text, re.M).group(1)
    for name, value in (passed | iss_defines()).items():
        base = base.replace(f"{{#{name}}}", value)
    assert installer == tmp_path / "dist" / f"{base}.exe"


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
