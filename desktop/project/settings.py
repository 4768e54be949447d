"""What the app remembers between runs (window layout, recent projects, preferences), in one INI file.

Always the INI format at the user's config location, so tests can redirect it with QSettings.setPath."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 8


class AppSettings:
    def __init__(self) -> None:
        self._store = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Dovecote", "Dovecote")

    def recent_projects(self) -> list[str]:
        value = self._store.value("recent/projects", [])
        paths = [value] if isinstance(value, str) else list(value or [])
        return [p for p in paths if p]

    def add_recent(self, folder: Path) -> None:
        path = str(folder)
        paths = [path] + [p for p in self.recent_projects() if p != path]
        self._store.setValue("recent/projects", paths[:MAX_RECENT])

    def remove_recent(self, folder: str) -> None:
        self._store.setValue("recent/projects", [p for p in self.recent_projects() if p != folder])

    def advance_after_label(self) -> bool:
        return self._bool("labelling/advance", True)

    def set_advance_after_label(self, on: bool) -> None:
        self._store.setValue("labelling/advance", on)

    def auto_retrain(self) -> bool:
        """"Keep the model up to date while I label": retrain the head a few seconds after label changes."""
        return self._bool("review/auto_retrain", True)

    def set_auto_retrain(self, on: bool) -> None:
        self._store.setValue("review/auto_retrain", on)

    def file_manager_offered(self) -> bool:
        """Whether the first start's offer of the file managers' right-click entries was made (and answered)."""
        return self._bool("integration/offered", False)

    def set_file_manager_offered(self, done: bool) -> None:
        self._store.setValue("integration/offered", done)

    def thumbnail_size(self, default: int) -> int:
        try:
            return int(self._store.value("view/thumbnail_size", default))
        except (TypeError, ValueError):
            return default

    def set_thumbnail_size(self, size: int) -> None:
        self._store.setValue("view/thumbnail_size", size)

    def sort_order(self) -> tuple[str | None, bool]:
        """The grid's sort key and direction as last chosen (None: the default)."""
        key = self._store.value("view/sort")
        return (str(key) if key else None), self._bool("view/descending", False)

    def set_sort_order(self, key: str, descending: bool) -> None:
        self._store.setValue("view/sort", key)
        self._store.setValue("view/descending", descending)

    def theme(self) -> str:
        return str(self._store.value("view/theme", "system"))

    def set_theme(self, theme: str) -> None:
        self._store.setValue("view/theme", theme)

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self._store.value("window/geometry"), self._store.value("window/state")

    def set_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._store.setValue("window/geometry", geometry)
        self._store.setValue("window/state", state)

    def train_settings(self, root: Path) -> dict:
        """The Train view's choices for the project at `root` (empty: the defaults)."""
        try:
            value = json.loads(str(self._store.value(_project_key("train", root), "{}")))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def set_train_settings(self, root: Path, values: dict) -> None:
        self._store.setValue(_project_key("train", root), json.dumps(values, sort_keys=True))

    def sync(self) -> None:
        self._store.sync()

    def _bool(self, key: str, default: bool) -> bool:
        value = self._store.value(key, default)
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1")


def _project_key(group: str, root: Path) -> str:
    """A settings key per project folder (its path hashed: QSettings keys cannot hold every path)."""
    return f"projects/{hashlib.sha1(str(root).encode()).hexdigest()[:16]}/{group}"
