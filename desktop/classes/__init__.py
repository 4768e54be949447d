"""The class sidebar: the list of classes with counts and hotkeys, and the class dialogs.
May import desktop.project, desktop.tasks, desktop.widgets; never another view."""
