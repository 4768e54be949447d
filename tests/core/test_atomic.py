import os
import stat

import pytest

from core.atomic import DEFAULT_MODE, atomic_path, write_text


def test_written_files_get_the_usual_permissions_not_private_ones(tmp_path):
    write_text(tmp_path / "report.html", "<p>hi</p>")
    assert stat.S_IMODE(os.stat(tmp_path / "report.html").st_mode) == DEFAULT_MODE
    assert DEFAULT_MODE & 0o044  # others can read what the user shares (umask 022 here)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_behind(tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temp:
            temp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["model.safetensors"]
