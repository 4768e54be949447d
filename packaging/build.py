"""Build the Dovecote app with PyInstaller, then this platform's installer where its tool is installed:
Linux .deb (dpkg-deb), Windows setup .exe (NSIS's makensis), macOS .dmg (hdiutil). On Linux it first makes
sure the system libraries the app must carry are on the build machine (packaging/system_libs.py).

    python packaging/build.py [--workpath DIR] [--distpath DIR] [--app-only]

Run it with the Python whose environment holds Dovecote's dependencies and PyInstaller (see README.md)."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import app_icon  # noqa: E402
import bundle  # noqa: E402

sys.path.insert(1, str(bundle.ROOT))  # core/ from this tree (deb.py writes the entries it defines)
SPEC = bundle.ROOT / "packaging" / "dovecote.spec"
DESCRIPTION = "Train an image classifier on your own folder of images, locally"


def build_app(workpath: Path, distpath: Path) -> Path:
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                    "--workpath", str(workpath), "--distpath", str(distpath), str(SPEC)], check=True)
    return distpath / bundle.DIST_NAME


def check_libraries() -> None:
    """Linux: every library Qt's display plugins need is on this machine, so PyInstaller can bundle it."""
    if not sys.platform.startswith("linux"):
        return
    import importlib.util

    import system_libs

    qt_dir = Path(importlib.util.find_spec("PySide6").origin).parent / "Qt"
    try:
        system_libs.check_build_machine(qt_dir)
    except system_libs.MissingLibraries as error:
        sys.exit(f"build.py: {error}")


def build_windows(app_dir: Path, icons: dict[str, Path], workpath: Path, distpath: Path, version: str
                  ) -> Path | None:
    import windows_installer

    makensis = windows_installer.find_makensis()
    if makensis is None:
        print("NSIS's makensis not found: no setup .exe (install NSIS 3)")
        return None
    return windows_installer.build(app_dir, icons["ico"], workpath / "nsis", distpath, version, makensis)


def build_macos(distpath: Path, workpath: Path, version: str) -> Path | None:
    if shutil.which("hdiutil") is None:
        print("hdiutil not found: no .dmg")
        return None
    stage = workpath / "dmg"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    app = f"{bundle.APP_NAME}.app"
    # ditto keeps the bundle's symbolic links, extended attributes and code signature.
    subprocess.run(["ditto", str(distpath / app), str(stage / app)], check=True)
    os.symlink("/Applications", stage / "Applications")  # drag the app onto it to install
    out = distpath / f"{bundle.APP_NAME}-{version}.dmg"
    subprocess.run(["hdiutil", "create", "-volname", bundle.APP_NAME, "-srcfolder", str(stage),
                    "-format", "UDZO", "-ov", str(out)], check=True)
    return out


def build_linux(app_dir: Path, icons: dict[str, Path], workpath: Path, distpath: Path, version: str) -> Path | None:
    if shutil.which("dpkg-deb") is None:
        print("dpkg-deb not found: no .deb")
        return None
    import deb

    return deb.build(app_dir, icons, workpath, distpath, version, DESCRIPTION)


def size_mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files) / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workpath", type=Path, default=bundle.ROOT / "build" / "pyinstaller",
                        help="PyInstaller's and the installers' work files (default build/pyinstaller)")
    parser.add_argument("--distpath", type=Path, default=bundle.ROOT / "dist",
                        help="where the app folder and the installer go (default dist/)")
    parser.add_argument("--app-only", action="store_true", help="build the app folder, no installer")
    args = parser.parse_args(argv)
    workpath, distpath = args.workpath.resolve(), args.distpath.resolve()
    version = bundle.version()

    check_libraries()
    started = time.monotonic()
    app_dir = build_app(workpath, distpath)
    print(f"app: {app_dir} ({size_mib(app_dir):.0f} MiB) in {time.monotonic() - started:.0f} s")
    if args.app_only:
        return 0
    started = time.monotonic()
    icons = app_icon.make_icons(bundle.ICON_SVG, workpath / "installer-icons")
    if sys.platform == "win32":
        installer = build_windows(app_dir, icons, workpath, distpath, version)
    elif sys.platform == "darwin":
        installer = build_macos(distpath, workpath, version)
    else:
        installer = build_linux(app_dir, icons, workpath, distpath, version)
    if installer is not None:
        print(f"installer: {installer} ({size_mib(installer):.0f} MiB) in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
