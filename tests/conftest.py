"""Fixtures shared by tests/core, tests/cli and tests/desktop. Add yours; keep each cheap or session-scoped."""
import pytest


@pytest.fixture(scope="session")
def colour_project(tmp_path_factory):
    """(project folder, run id): a tiny project trained once per test session (red vs blue images)."""
    from colourproject import trained_project

    return trained_project(tmp_path_factory.mktemp("colour") / "colour project")
