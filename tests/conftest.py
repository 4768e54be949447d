"""Fixtures shared by tests/core, tests/cli and tests/desktop. Add yours; keep each cheap or session-scoped."""
import pytest


@pytest.fixture(scope="session")
def colour_project(tmp_path_factory):
    """(project folder, run id): a tiny project trained once per test session (red vs blue images)."""
    from colourproject import trained_project

    return trained_project(tmp_path_factory.mktemp("colour") / "colour project")


@pytest.fixture
def qt_settings(tmp_path):
    """QSettings and QStandardPaths pointed at tmp_path: tests never read or write the user's settings."""
    from PySide6.QtCore import QSettings, QStandardPaths

    folder = tmp_path / "qt-settings"
    folder.mkdir()
    QStandardPaths.setTestModeEnabled(True)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
    yield folder
    QStandardPaths.setTestModeEnabled(False)


@pytest.fixture(scope="session", autouse=True)
def dovecote_cache_dir(tmp_path_factory):
    """The per-user cache (exported ONNX backbones, downloaded weights) in a folder of this test session: tests
    never write the user's cache, and each backbone is exported to ONNX at most once per session."""
    from core.models.backbones import CACHE_ENV

    folder = tmp_path_factory.mktemp("dovecote-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(folder))
        yield folder


@pytest.fixture(scope="session", autouse=True)
def dovecote_log_dir(tmp_path_factory):
    """The log file in a folder of this test session: tests never write the user's log."""
    from core.logs import LOG_ENV

    folder = tmp_path_factory.mktemp("dovecote-log")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LOG_ENV, str(folder))
        yield folder
