"""Small building blocks every view may use: icons, the theme, the thumbnail loader.
Imports core and Qt only."""
