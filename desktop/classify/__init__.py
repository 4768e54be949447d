"""The Classify window: classify a folder with a model, see the results, sort the files.
May import desktop.project, desktop.tasks, desktop.widgets; never another view."""
