"""The `dovecote` command. The GUI and the CLI are two faces over the same core functions."""
from core.cli.main import main

__all__ = ["main"]
