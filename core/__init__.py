"""Dovecote's logic, without any GUI: one package per capability (see the README's developer section).
Shared by all: errors, events (what long work yields), atomic writes and the Project (a folder and its store).
Nothing here imports Qt or desktop/."""
