""""Why did it say that?": the Grad-CAM heat map of the latest model's prediction for the image in the
preview (core/models/explain.py), computed in the window's warm worker process (torch is imported there
already, never in the window, and the model stays loaded there for the next image), laid over the picture."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from core.models.explain import HeatMap, HeatMapReady, explain_image
from core.storage import runs
from desktop.project.context import ProjectContext
from desktop.tasks.jobs import in_project


def heat_image(heat: np.ndarray) -> QImage:
    """A heat map [S, S] in 0..1 as a translucent colour image: blue and clear where the model did not look,
    through yellow to opaque red where it looked most."""
    h = np.clip(heat, 0.0, 1.0)
    rgb = np.stack([np.clip(1.5 - np.abs(4 * h - 3), 0, 1), np.clip(1.5 - np.abs(4 * h - 2), 0, 1),
                    np.clip(1.5 - np.abs(4 * h - 1), 0, 1)], axis=-1)
    alpha = 0.1 + 0.55 * h
    rgba = np.ascontiguousarray(np.concatenate([rgb, alpha[..., None]], axis=-1) * 255, dtype=np.uint8)
    height, width = h.shape
    return QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()


class HeatOverlay(QObject):
    ready = Signal(int, object, object)  # image id, QImage overlay, HeatMap
    failed = Signal(str)

    def __init__(self, context: ProjectContext, parent: QObject | None = None):
        super().__init__(parent)
        self._context = context
        self.wanted: int | None = None
        self.task = None

    def request(self, image_id: int | None) -> bool:
        """Compute the heat map of `image_id` (None: forget); False when there is no model to explain."""
        self.wanted = image_id
        project = self._context.project
        if image_id is None or project is None:
            return False
        run = self._context.read(runs.latest_model_run)
        if run is None:
            self.failed.emit("Train a model first: the heat map shows what the model looked at.")
            return False
        task = self._context.tasks.run("Explaining the prediction", in_project, str(project.root),
                                       str(project.store_dir), explain_image, run.id, image_id)
        self.task = task
        task.event.connect(self._arrived)
        task.failed.connect(lambda error: image_id == self.wanted and self.failed.emit(
            f"Cannot explain this prediction: {error}"))
        return True

    def _arrived(self, event: object) -> None:
        if isinstance(event, HeatMapReady) and event.image_id == self.wanted:
            heat: HeatMap = event.heat_map
            self.ready.emit(event.image_id, heat_image(heat.heat), heat)
