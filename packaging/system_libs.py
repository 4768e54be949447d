"""Linux: the system libraries a build takes from the build machine, checked before and after PyInstaller.

Before: PySide6's wheel carries Qt but not the X11 helper libraries its xcb platform plugin loads (xcb-cursor,
xcb-icccm, xkbcommon-x11, ...). PyInstaller copies them from the build machine into the app, and silently
leaves out any that is missing there: the app would then build, and its window would not open on a user's
X11 desktop. check_build_machine() finds every library Qt's plugins cannot load here and installs it
(Debian, as root) or stops the build naming it.

After: what PyInstaller did not bundle (glibc, the OpenGL/EGL/DRM drivers, libxcb and the Wayland client
libraries: they must match the user's system) the .deb must depend on. system_packages() lists the Debian
packages that hold the libraries the bundled programs load from outside the bundle."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Qt's xcb plugin's libraries that PySide6 leaves to the system, by soname: the Debian package that has it.
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0", "libxcb-shape.so.0": "libxcb-shape0", "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1", "libxcb-util.so.1": "libxcb-util1", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-glx.so.0": "libxcb-glx0", "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1", "libX11.so.6": "libx11-6", "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6", "libdbus-1.so.3": "libdbus-1-3", "libglib-2.0.so.0": "libglib2.0-0",
    "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libOpenGL.so.0": "libopengl0", "libdrm.so.2": "libdrm2",
    "libwayland-client.so.0": "libwayland-client0", "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}
# The Qt plugins whose libraries the window needs: the display servers' platforms and their GL integrations.
QT_PLUGIN_FOLDERS = ("platforms", "xcbglintegrations", "wayland-graphics-integration-client",
                     "wayland-shell-integration", "wayland-decoration-client")
_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(not found|\S+)")


class MissingLibraries(Exception):
    pass


def ldd(path: Path, env: dict | None = None) -> dict[str, str | None]:
    """soname -> the file it resolves to, None where it is not found."""
    done = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env)
    found = {}
    for line in done.stdout.splitlines():
        match = _LDD_LINE.match(line)
        if match:
            found[match[1]] = None if match[2] == "not found" else match[2]
    return found


def qt_plugins(qt_dir: Path) -> list[Path]:
    return sorted(p for folder in QT_PLUGIN_FOLDERS for p in (qt_dir / "plugins" / folder).glob("*.so"))


def missing_for_qt(qt_dir: Path) -> set[str]:
    """The sonames Qt's display plugins (and the Qt libraries they load) cannot find on this machine."""
    env = dict(os.environ, LD_LIBRARY_PATH=str(qt_dir / "lib"))
    return {name for plugin in qt_plugins(qt_dir) for name, where in ldd(plugin, env).items() if where is None}


def _is_debian() -> bool:
    return Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None


def _as_root() -> list[str] | None:
    """How to run a command as root without asking a password: directly, through `sudo -n` (CI runners), or
    None."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n", "--preserve-env=DEBIAN_FRONTEND"]
    return None


def check_build_machine(qt_dir: Path, install: bool = True) -> list[str]:
    """Makes sure every library Qt's display plugins need is here; returns the Debian packages it installed.
    Raises MissingLibraries naming them (and their packages, where known) when they cannot be installed."""
    missing = missing_for_qt(qt_dir)
    if not missing:
        return []
    packages = sorted({DEBIAN_PACKAGES[name] for name in missing if name in DEBIAN_PACKAGES})
    unknown = sorted(name for name in missing if name not in DEBIAN_PACKAGES)
    root = _as_root() if install and packages and not unknown and _is_debian() else None
    if root is not None:
        print(f"Installing the libraries the app must carry: {' '.join(packages)}")
        subprocess.run([*root, "apt-get", "install", "-y", "--no-install-recommends", *packages], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        missing = missing_for_qt(qt_dir)
        if not missing:
            return packages
    hint = f" (Debian/Ubuntu: sudo apt-get install {' '.join(packages)})" if packages else ""
    raise MissingLibraries(f"The build machine lacks libraries the app must carry for its window to open: "
                           f"{', '.join(sorted(missing))}{hint}. Install them and build again.")


def bundled_elf_files(app_dir: Path) -> list[Path]:
    found = []
    for path in app_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def outside_libraries(app_dir: Path) -> dict[str, str | None]:
    """soname -> the system file every bundled program or library loads from outside the app (None: found
    nowhere, not even here), resolved the way the app's programs resolve them: the bundle's folders first."""
    files = bundled_elf_files(app_dir)
    inside = {p.name for p in files} | {p.name for p in app_dir.rglob("*.so*") if p.is_symlink()}
    folders = sorted({str(p.parent) for p in files})
    env = dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join(folders))
    outside = {}
    for path in files:
        if path.suffix == ".so" or ".so." in path.name or os.access(path, os.X_OK):
            for name, where in ldd(path, env).items():
                if name not in inside and (where is None or not where.startswith(str(app_dir))):
                    outside[name] = where
    return outside


def owning_package(path: str) -> str | None:
    """The Debian package that installed a library file (merged /usr: either spelling of its path)."""
    real = os.path.realpath(path)
    for candidate in dict.fromkeys([path, real, real.replace("/usr/lib/", "/lib/", 1),
                                    real.replace("/lib/", "/usr/lib/", 1)]):
        done = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.split(":", 1)[0].strip()
    return None


def system_packages(app_dir: Path) -> list[str]:
    """The Debian packages holding the libraries the app loads from the system (its Depends, glibc aside)."""
    packages = set()
    for name, where in outside_libraries(app_dir).items():
        package = (owning_package(where) if where else None) or DEBIAN_PACKAGES.get(name)
        if package is None:
            print(f"warning: {name} ({where or 'not found'}) comes from no Debian package: not in Depends",
                  file=sys.stderr)
        elif package not in ("libc6", "libc-bin"):
            packages.add(package)
    return sorted(packages)
