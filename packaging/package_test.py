"""`make package-test`: build the app and the .deb, install it, and check what a user gets; also compile the
Windows setup script and lint the release workflow. Minutes, CPU-heavy: not part of `make test`.

    python packaging/package_test.py [--skip-build] [--keep-installed]

Steps: build (packaging/build.py) -> install (dpkg -i as root, else unpacked into a temporary root) -> the
installed `dovecote --selftest` without a display -> packaging/smoke_test.py on the installed program -> start
time -> desktop-file-validate on the installed entries -> makensis on a stand-in Windows app -> actionlint on
.github/workflows -> dpkg -r, then nothing of the package is left. Prints the figures the README quotes and
writes them to build/package-test.json; exits 1 if any step failed."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle  # noqa: E402

sys.path.insert(1, str(bundle.ROOT))
import deb  # noqa: E402
import windows_installer  # noqa: E402
from app_icon import make_icons  # noqa: E402

DIST = bundle.ROOT / "dist"
WORK = bundle.ROOT / "build" / "pyinstaller"
WORKFLOWS = bundle.ROOT / ".github" / "workflows"
INSTALLED_ENTRIES = ["usr/share/applications/dovecote.desktop", "usr/share/applications/dovecote-classify.desktop",
                     "usr/share/kio/servicemenus/dovecote-classify.desktop"]


class Failed(Exception):
    pass


def mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files) / 2**20


def run(args: list[str], env: dict | None = None, timeout: float = 1800) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise Failed(f"`{' '.join(map(str, args))}` exited with {done.returncode}:\n"
                     f"{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def headless_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return dict(env, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
                XDG_CACHE_HOME=str(home / ".cache"), DOVECOTE_LOG_DIR=str(home / "log"))


class PackageTest:
    def __init__(self, work: Path, skip_build: bool):
        self.work = work
        self.skip_build = skip_build
        self.figures: dict[str, object] = {}
        self.root: Path | None = None  # where the package is installed: / (dpkg -i) or a temporary root
        self.package: Path | None = None

    @property
    def program(self) -> Path:
        return self.root / "usr/bin" / bundle.CLI_NAME

    def build(self) -> str:
        if not self.skip_build:
            started = time.monotonic()
            out = run([sys.executable, str(bundle.ROOT / "packaging" / "build.py")], timeout=3600)
            self.figures["build_s"] = round(time.monotonic() - started)
            # build.py's own lines: "app: ... (N MiB) in N s", "installer: ... in N s"
            self.figures["build_steps"] = [line for line in out.splitlines() if line.startswith(("app:", "installer:"))]
        app = DIST / bundle.DIST_NAME
        packages = sorted(DIST.glob(f"{deb.PACKAGE}_{bundle.version()}_*.deb"), key=lambda p: p.stat().st_mtime)
        if not app.is_dir() or not packages:
            raise Failed(f"no app folder or .deb in {DIST}: build first")
        self.package = packages[-1]
        self.figures.update(app_mib=round(mib(app)), deb_mib=round(mib(self.package)))
        self.figures["depends"] = run(["dpkg-deb", "--field", str(self.package), "Depends"]).strip()
        return f"app {self.figures['app_mib']} MiB, .deb {self.figures['deb_mib']} MiB"

    def install(self) -> str:
        if os.geteuid() == 0 and shutil.which("dpkg"):
            run(["dpkg", "-i", str(self.package)])
            self.root = Path("/")
            how = "dpkg -i"
        else:
            self.root = self.work / "root"
            run(["dpkg-deb", "-x", str(self.package), str(self.root)])
            how = f"unpacked into {self.root} (not root: no dpkg -i)"
        missing = [e for e in INSTALLED_ENTRIES if not (self.root / e).is_file()]
        if missing:
            raise Failed(f"not installed: {missing}")
        return how

    def selftest(self) -> str:
        started = time.monotonic()
        line = run([str(self.program), "--selftest"], env=headless_env(self.work / "home-selftest")).strip()
        self.figures["selftest_s"] = round(time.monotonic() - started, 1)
        self.figures["selftest"] = line
        if not line.startswith("dovecote selftest PASSED") or "(bundled app)" not in line:
            raise Failed(line)
        return line

    def smoke(self) -> str:
        out = run([sys.executable, str(bundle.ROOT / "packaging" / "smoke_test.py"), str(self.program)],
                  env=headless_env(self.work / "home-smoke"))
        return out.strip().splitlines()[-1]

    def start_time(self) -> str:
        """The frozen program from start to exit, three times (the first one reads from a cold disk cache)."""
        env = headless_env(self.work / "home-start")
        times = []
        for _ in range(3):
            started = time.monotonic()
            out = run([str(self.program), "--version"], env=env)
            times.append(time.monotonic() - started)
        if out.strip() != f"dovecote {bundle.version()}":
            raise Failed(f"--version says {out.strip()!r}")
        self.figures["start_s"] = round(statistics.median(times), 2)
        return f"--version in {self.figures['start_s']} s (median of {[round(t, 2) for t in times]})"

    def desktop_files(self) -> str:
        if shutil.which("desktop-file-validate") is None:
            raise Failed("desktop-file-validate is not installed (Debian: desktop-file-utils)")
        # KDE's service menus are not Desktop Entry "Application"s: the validator knows no Type=Service.
        checked = [self.root / e for e in INSTALLED_ENTRIES if "/applications/" in e]
        for path in checked:
            out = run(["desktop-file-validate", str(path)])
            if "error" in out:
                raise Failed(out)
        return f"{len(checked)} valid: {', '.join(p.name for p in checked)}"

    def windows_setup(self) -> str:
        makensis = windows_installer.find_makensis()
        if makensis is None:
            raise Failed("makensis is not installed (Debian: nsis)")
        app = windows_installer.standin_app(self.work / "windows" / bundle.DIST_NAME)
        icon = make_icons(bundle.ICON_SVG, self.work / "icons")["ico"]
        started = time.monotonic()
        setup = windows_installer.build(app, icon, self.work / "nsis", self.work / "windows-dist", bundle.version(),
                                        makensis)
        return f"{setup.name} compiled in {time.monotonic() - started:.1f} s"

    def workflows(self) -> str:
        actionlint = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
        if actionlint is None:
            raise Failed("actionlint is not installed (pip install '.[release-check]')")
        files = sorted(WORKFLOWS.glob("*.yml"))
        run([actionlint, *map(str, files)])
        return f"{', '.join(f.name for f in files)} clean"

    def remove(self) -> str:
        if self.root != Path("/"):
            return "nothing installed (unpacked only)"
        run(["dpkg", "-r", deb.PACKAGE])
        ours = [Path("/opt") / bundle.DIST_NAME, self.program, *(Path("/") / e for e in INSTALLED_ENTRIES)]
        left = [str(p) for p in ours if p.exists()]
        if left:
            raise Failed(f"left after dpkg -r: {left}")
        return "dpkg -r left none of its files"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-build", action="store_true", help="test the app and .deb already in dist/")
    parser.add_argument("--keep-installed", action="store_true", help="leave the package installed")
    args = parser.parse_args(argv)
    failures = []
    with tempfile.TemporaryDirectory(prefix="dovecote-package-test-") as folder:
        test = PackageTest(Path(folder), args.skip_build)
        steps = [("build", test.build), ("install", test.install), ("selftest", test.selftest),
                 ("smoke test", test.smoke), ("start time", test.start_time), ("desktop files", test.desktop_files),
                 ("windows setup", test.windows_setup), ("workflows", test.workflows)]
        if not args.keep_installed:
            steps.append(("remove", test.remove))
        needs_install = {"selftest", "smoke test", "start time", "desktop files", "remove"}
        for name, step in steps:
            if name in needs_install and test.root is None or name == "install" and test.package is None:
                failures.append(name)
                print(f"FAIL {name}: not run, the package was not built or installed", flush=True)
                continue
            started = time.monotonic()
            try:
                detail = step()
            except (Failed, subprocess.TimeoutExpired, OSError) as error:
                failures.append(name)
                print(f"FAIL {name} ({time.monotonic() - started:.0f} s): {error}", flush=True)
            else:
                print(f"ok   {name} ({time.monotonic() - started:.0f} s): {detail}", flush=True)
    out = bundle.ROOT / "build" / "package-test.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(test.figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(test.figures, indent=2))
    print("package test passed" if not failures else f"package test FAILED: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
