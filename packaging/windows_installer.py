"""Windows: the setup .exe, compiled by NSIS's makensis from packaging/windows/dovecote.nsi. makensis runs on
Linux too (Debian's nsis package), so `make package-test` compiles the script against a stand-in folder laid
out like the PyInstaller app (standin_app) and proves it builds without a Windows machine."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import bundle

NSI = bundle.ROOT / "packaging" / "windows" / "dovecote.nsi"


def find_makensis() -> str | None:
    """makensis on PATH, or where the NSIS installer puts it on Windows."""
    found = shutil.which("makensis")
    if found:
        return found
    for base in (os.environ.get("ProgramFiles(x86)"), os.environ.get("ProgramFiles")):
        if base and (Path(base) / "NSIS" / "makensis.exe").is_file():
            return str(Path(base) / "NSIS" / "makensis.exe")
    return None


def uninstall_list(app_dir: Path) -> str:
    """NSIS commands that delete exactly the app's files, then its folders deepest first (RMDir without /r
    removes a folder only when empty: anything a user put there stays)."""
    files = sorted(p.relative_to(app_dir) for p in app_dir.rglob("*") if not p.is_dir())
    folders = sorted((p.relative_to(app_dir) for p in app_dir.rglob("*") if p.is_dir()),
                     key=lambda p: (-len(p.parts), str(p)))
    lines = [f'Delete "$INSTDIR\\{_windows(p)}"' for p in files]
    lines += [f'RMDir "$INSTDIR\\{_windows(p)}"' for p in folders]
    return "\n".join(lines) + "\n"


def _windows(path: Path) -> str:
    text = str(path).replace("/", "\\")
    if '"' in text or "$" in text:  # NSIS strings: $ starts a variable; PyInstaller never makes such names
        raise ValueError(f"cannot list {path} for the uninstaller")
    return text


def output_name(version: str) -> str:
    return f"{bundle.APP_NAME}-{version}-setup.exe"


def build(app_dir: Path, icon: Path, work: Path, out_dir: Path, version: str, makensis: str) -> Path:
    """Compile the setup program for app_dir; returns its path."""
    work.mkdir(parents=True, exist_ok=True)
    listing = work / "uninstall-files.nsh"
    listing.write_text(uninstall_list(app_dir), encoding="utf-8")
    out = out_dir / output_name(version)
    out_dir.mkdir(parents=True, exist_ok=True)
    defines = {"AppVersion": version, "AppDir": app_dir, "IconFile": icon, "UninstallList": listing, "OutFile": out}
    # -INPUTCHARSET: the listing may name files in any language; -V2: warnings and errors only.
    subprocess.run([makensis, "-V2", "-WX", "-INPUTCHARSET", "UTF8",
                    *(f"-D{name}={value}" for name, value in defines.items()), str(NSI)], check=True)
    return out


def standin_app(folder: Path) -> Path:
    """A folder laid out like dist/dovecote on Windows: both programs, the libraries folder, an odd name."""
    for relative in (bundle.CLI_NAME + ".exe", bundle.WINDOWED_NAME + ".exe", "_internal/python311.dll",
                     "_internal/base_library.zip", "_internal/torch/lib/torch_cpu.dll",
                     "_internal/PySide6/plugins/platforms/qwindows.dll", "_internal/resources/icons/dovecote.svg",
                     "_internal/core/report/template.html", "_internal/déjà vu & co/ünï.txt"):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(b"MZ stand-in " + relative.encode())
    (folder / "_internal" / "empty folder").mkdir(exist_ok=True)
    return folder
