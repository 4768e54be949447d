"""Small building blocks every view may use: icons, the theme, the thumbnail loader, the error dialog.
Imports core and Qt only."""
