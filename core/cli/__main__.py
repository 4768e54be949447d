"""`python -m core.cli`: the commands without the desktop app."""
import sys

from core.cli.main import main

sys.exit(main())
