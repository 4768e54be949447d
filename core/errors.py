"""Errors a user can act on: each message says what happened and what to do."""


class DovecoteError(Exception):
    """Base class: str(error) is a one-line message fit to show a user."""


class NotAFolder(DovecoteError):
    pass


class StoreLocked(DovecoteError):
    pass


class StoreCorrupt(DovecoteError):
    """The store fails SQLite's integrity check (or is empty): only then is a backup the advice."""


class StoreReadOnly(DovecoteError):
    pass


class StoreIOError(DovecoteError):
    """A disk error, a full disk: the store may well be intact, and the message says whether it is."""


class NotAProject(DovecoteError):
    pass


class StoreTooNew(DovecoteError):
    pass


class InvalidRequest(DovecoteError):
    """The request does not make sense for this project (unknown class, bad name, ...)."""
