"""`dovecote --selftest`: what support asks a user to run, and what CI runs on every built app. It must pass on
a machine without a display, say in one line what it checked and how long each part took, and exit 1 naming
what failed."""
import os
import subprocess
import sys
from pathlib import Path

from core.cli import main
from core.logs import log_path
from core.models.bundles import app_version
from core.selftest import checks
from core.selftest.checks import Check

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("backbone", "store", "train", "classify", "onnx-vs-torch", "qt", "log")


def test_selftest_passes_headless_and_prints_one_verdict_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(DOVECOTE_LOG_DIR=str(tmp_path / "log"), DOVECOTE_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=str(ROOT), HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-c", "from desktop.launcher import main; main()", "--selftest"],
                          env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    (line,) = done.stdout.splitlines()
    assert line.startswith("dovecote selftest PASSED | ") and f"dovecote {app_version()} (from source)" in line
    assert "device cpu" in line and all(f"{name} " in line for name in NAMES), line
    log = (tmp_path / "log" / "dovecote.log").read_text(encoding="utf-8")
    assert all(f"self-test {name} passed" in log for name in NAMES)
    assert not list((tmp_path / "cache").glob("*")), "the self-test left files in the user's cache"


def test_a_failing_check_fails_the_selftest_and_is_named(capsys, monkeypatch):
    def broken_backbone(self):
        raise RuntimeError("weights file damaged")

    monkeypatch.setattr(checks._Selftest, "backbone", broken_backbone)
    ran = []
    assert main(["--selftest"], checks=[Check("qt", lambda: ran.append("qt") or "fine")]) == 1
    out, err = capsys.readouterr()
    (line,) = out.splitlines()
    assert line.startswith("dovecote selftest FAILED backbone: RuntimeError: weights file damaged;")
    # what needs the backbone is not run, and says why; what does not need it still runs and passes
    assert "train: not run: backbone failed" in line and "classify: not run: train failed" in line
    assert "store: " not in line and "log: " not in line and ran == ["qt"]
    assert str(log_path()) in err
    assert "weights file damaged" in log_path().read_text(encoding="utf-8")
