"""The Qt (PySide6) app: one package per view, over the same core functions as the CLI.
window/ assembles; actions/ are the commands; views never import each other, only project/, tasks/ and widgets/."""
