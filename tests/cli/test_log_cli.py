"""`dovecote --version`, `dovecote --log-path`, and the log every command writes: what a user sends with a
bug report."""
import pytest

from core.cli import main
from core.logs import log_path
from core.models.bundles import app_version
from imagegen import bad_files, class_folder


def test_version_and_log_path(capsys, dovecote_log_dir):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"dovecote {app_version()}" != "dovecote unknown"
    assert main(["--log-path"]) == 0
    assert capsys.readouterr().out.strip() == str(dovecote_log_dir / "dovecote.log")


def test_commands_log_what_they_did_and_why_they_stopped(capsys, tmp_path, dovecote_log_dir):
    root = class_folder(tmp_path / "shop", classes=("shoes", "bags"), per_class=2)
    bad_files(root / "inbox")
    assert main(["import", str(root)]) == 0
    assert main(["status", str(tmp_path / "nowhere")]) == 1
    capsys.readouterr()
    text = log_path().read_text(encoding="utf-8")
    assert f"import {root}" in text
    assert "Skipped unreadable inbox/" in text  # core says which files it left out, and why
    assert "status stopped:" in text and "is not a folder" in text
