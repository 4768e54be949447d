"""packaging/ is a folder of scripts, not a package: its modules import each other by plain name."""
import importlib.util
import sys
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
sys.path.insert(0, str(PACKAGING))


@pytest.fixture(scope="session")
def build_script():
    """packaging/build.py, loaded under a name that cannot meet PyPA's `build` package."""
    spec = importlib.util.spec_from_file_location("dovecote_build_script", PACKAGING / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
