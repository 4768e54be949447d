"""Errors a user can act on: each message says what happened and what to do."""


class DovecoteError(Exception):
    """Base class: str(error) is a one-line message fit to show a user."""


class NotAFolder(DovecoteError):
    pass


class StoreLocked(DovecoteError):
    pass


class StoreCorrupt(DovecoteError):
    pass


class StoreTooNew(DovecoteError):
    pass


class InvalidRequest(DovecoteError):
    """The request does not make sense for this project (unknown class, bad name, ...)."""
