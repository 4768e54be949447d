"""A run's model file as the runs list handles it: exported (ONNX, TorchScript, or the model bundle itself,
which `dovecote classify --model` and the window's classifier read), or deleted with its run."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from core.atomic import atomic_path
from core.errors import InvalidRequest
from core.events import Progress
from core.storage import runs

EXPORT_CHOICES = ("onnx", "torchscript", "bundle")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt", "bundle": ".safetensors"}


@dataclass(frozen=True)
class RunExported:
    run_id: int
    fmt: str
    path: Path


def model_file(project, run_id: int) -> Path:
    with project.session() as session:
        run = runs.get_run(session, run_id)
    if not run.model_path:
        raise InvalidRequest(f"{run.title} has no model (it {run.status} before one was saved).")
    return project.store_dir / run.model_path


def export_run(project, run_id: int, fmt: str, out: str) -> Iterator[object]:
    """Write run `run_id`'s model to `out` as `fmt` (EXPORT_CHOICES). Yields Progress, then RunExported."""
    if fmt not in EXPORT_CHOICES:
        raise InvalidRequest(f"Unknown export format {fmt!r}; choose one of {', '.join(EXPORT_CHOICES)}.")
    source, out = model_file(project, run_id), Path(out).expanduser()
    yield Progress("Exporting", 0, 1, out.name)
    if fmt == "bundle":
        with atomic_path(out, durable=True) as temp:
            shutil.copyfile(source, temp)
    else:
        from core.models.bundles import ModelBundle, export_model

        export_model(ModelBundle.load(source), fmt, out)
    yield Progress("Exporting", 1, 1, out.name)
    yield RunExported(run_id, fmt, out)


def delete_run(project, run_id: int) -> None:
    """Delete the run from the store, then its model file (ours, inside the store)."""
    with project.session() as session:
        relative = runs.delete_run(session, run_id)
    if relative:
        (project.store_dir / relative).unlink(missing_ok=True)
