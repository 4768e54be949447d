"""The main window and what frames it: menus, status bar, empty state, folder drop. It only assembles.
May import everything in desktop/."""
