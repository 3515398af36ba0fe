"""Errors the CLI turns into one-line messages instead of tracebacks."""


class UsageError(Exception):
    """Bad arguments or unusable input files: the caller prints str(e) and exits 2."""
