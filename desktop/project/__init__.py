"""The open project shared by every view: its store actions and change signals, opening, import, settings.
May import desktop.tasks, desktop.widgets and core."""
