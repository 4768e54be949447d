"""Linux: the one-folder app as a .deb, made with dpkg-deb (no root needed: --root-owner-group).

    /opt/dovecote/                       the PyInstaller folder
    /usr/bin/dovecote                    a relative link to /opt/dovecote/dovecote
    /usr/share/applications/dovecote.desktop
    /usr/share/icons/hicolor/{scalable,256x256}/apps/dovecote.{svg,png}
    /usr/share/kio/servicemenus/dovecote-classify.desktop     "Classify with Dovecote" in Dolphin
    /usr/share/applications/dovecote-classify.desktop         ... and "Open With" for folders elsewhere
dpkg's triggers (desktop-file-utils, hicolor-icon-theme) refresh menus and icon caches, and dpkg -r removes
every file: no maintainer scripts. Nautilus scripts and Thunar actions exist only per user: the app offers
them on its first start (desktop/window/file_manager_offer.py).

Compressed with zstd: seconds where xz took minutes (dpkg >= 1.21.18 reads it: Debian 12, Ubuntu 21.10)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import bundle
import system_libs
from core.integration.linux import SYSTEM_DATA, system_files

PACKAGE = "dovecote"
INSTALL_DIR = Path("opt") / bundle.DIST_NAME
DESKTOP_FILE = bundle.ROOT / "packaging" / "linux" / "dovecote.desktop"
# The libraries PyInstaller leaves to the system (it bundles the rest: fontconfig, xkbcommon, xcb-cursor...):
# the C library, the graphics drivers' OpenGL/EGL/DRM, and the display servers' client libraries. Qt opens
# some of them with dlopen, out of ldd's sight, so they are listed here; system_libs.system_packages() adds
# every other package whose libraries the bundled programs load.
DEPENDS = ["libgl1", "libegl1", "libdrm2", "libxcb1", "libwayland-client0", "libwayland-cursor0", "libwayland-egl1"]
COMPRESSION = ["-Zzstd", "-z9"]  # level 9: measured ~10% smaller than the default 3 for ~7x its time (still seconds)
COMMAND = f"/usr/bin/{bundle.CLI_NAME}"  # what the entries for all users call
_GLIBC_VERSION = re.compile(rb"GLIBC_2\.(\d+)")


def min_glibc(folder: Path) -> str:
    """The newest glibc symbol version any bundled program or library asks for: the bundle carries the
    build machine's Python and some of its libraries, so it runs only where glibc is at least as new."""
    newest = 17
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
                newest = max([newest, *(int(m) for m in _GLIBC_VERSION.findall(f.read()))])
    return f"2.{newest}"


def maintainer(env=os.environ) -> str:
    """Who built the package, from Debian's usual DEBFULLNAME and DEBEMAIL."""
    name = env.get("DEBFULLNAME", "Dovecote developers")
    return f"{name} <{env['DEBEMAIL']}>" if env.get("DEBEMAIL") else name


def control(version: str, architecture: str, installed_kib: int, glibc: str, description: str,
            system_packages: list[str] = ()) -> str:
    depends = ", ".join([f"libc6 (>= {glibc})", *sorted(set(DEPENDS) | set(system_packages))])
    return (f"Package: {PACKAGE}\n"
            f"Version: {version}\n"
            f"Architecture: {architecture}\n"
            f"Maintainer: {maintainer()}\n"
            f"Installed-Size: {installed_kib}\n"
            f"Depends: {depends}\n"
            f"Section: graphics\n"
            f"Priority: optional\n"
            f"Description: {description}\n"
            f" A desktop app and command line: sort images into classes, train a classifier on the CPU,\n"
            f" review its mistakes, classify new folders. Everything runs locally.\n")


def _kib(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) // 1024 + 1


def stage(app_dir: Path, icons: dict[str, Path], root: Path) -> Path:
    """The file tree the package installs, under root; returns root."""
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(app_dir, root / INSTALL_DIR, symlinks=True)
    (root / "usr/bin").mkdir(parents=True)
    os.symlink(Path("../..") / INSTALL_DIR / bundle.CLI_NAME, root / "usr/bin" / bundle.CLI_NAME)
    for source, target in [
        (DESKTOP_FILE, "usr/share/applications/dovecote.desktop"),
        (bundle.ICON_SVG, "usr/share/icons/hicolor/scalable/apps/dovecote.svg"),
        (icons["png"], "usr/share/icons/hicolor/256x256/apps/dovecote.png"),
    ]:
        (root / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, root / target)
        (root / target).chmod(0o644)
    share = root / SYSTEM_DATA.relative_to("/")
    for relative, (content, mode) in system_files([COMMAND]).items():
        (share / relative).parent.mkdir(parents=True, exist_ok=True)
        (share / relative).write_text(content, encoding="utf-8")
        (share / relative).chmod(mode)
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]:
        folder.chmod(0o755)
    return root


def build(app_dir: Path, icons: dict[str, Path], work: Path, out_dir: Path, version: str, description: str) -> Path:
    architecture = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                                  check=True).stdout.strip()
    root = stage(app_dir, icons, work / "deb-root")
    (root / "DEBIAN").mkdir(mode=0o755)
    fields = control(version, architecture, _kib(root), min_glibc(root / INSTALL_DIR), description,
                     system_libs.system_packages(root / INSTALL_DIR))
    (root / "DEBIAN/control").write_text(fields, encoding="utf-8")
    out = out_dir / f"{PACKAGE}_{version}_{architecture}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", *COMPRESSION, "--build", str(root), str(out)], check=True)
    return out
