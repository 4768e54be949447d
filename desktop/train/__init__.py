"""The Train view: settings, a run's live progress and charts, the runs list and comparison.
May import desktop.project, desktop.tasks, desktop.widgets; never another view."""
