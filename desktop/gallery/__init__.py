"""The image grid: its model over image ids, the view, the thumbnail delegate, the filter bar.
May import desktop.project, desktop.tasks, desktop.widgets; never another view."""
