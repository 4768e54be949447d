"""The self-test's Qt check: a screen plugin whose system libraries are missing fails it where the plugin is
needed (a bundled app, or a session with a screen) and is only reported on a machine without one, run from
source (CI failed on a runner without libxcb-icccm4, where no window would ever open)."""
from __future__ import annotations

import ctypes
import sys

import pytest

from desktop import app

MISSING = "libxcb-icccm.so.4: cannot open shared object file: No such file or directory"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's X11 plugin is Linux's")


@pytest.fixture
def xcb_libraries_missing(monkeypatch):
    loaded = ctypes.CDLL

    def cdll(name, *args, **kwargs):
        if name.endswith("libqxcb.so"):
            raise OSError(MISSING)
        return loaded(name, *args, **kwargs)

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delattr(sys, "frozen", raising=False)


def test_without_a_screen_from_source_a_missing_library_is_reported_not_failed(qapp, xcb_libraries_missing):
    found = app.qt_selftest()
    assert f"libqxcb.so cannot load ({MISSING}), unneeded without a screen" in found


@pytest.mark.parametrize("where", ["screen", "bundle"])
def test_where_the_plugin_is_needed_a_missing_library_fails_the_check(qapp, xcb_libraries_missing, monkeypatch,
                                                                      where):
    if where == "screen":
        monkeypatch.setenv("DISPLAY", ":0")
    else:
        monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(RuntimeError, match="Qt's libqxcb.so cannot load: libxcb-icccm.so.4"):
        app.qt_selftest()
