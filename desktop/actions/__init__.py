"""The user's commands as QActions (label, classes), shared by menus, toolbar and views.
May import the views, desktop.project, desktop.widgets."""
