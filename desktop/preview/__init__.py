"""The preview pane: the selected image large, with its label and prediction.
May import desktop.project, desktop.tasks, desktop.widgets; never another view."""
