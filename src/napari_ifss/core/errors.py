"""Exceptions raised on bad user input. Their messages name the problem for a person."""

from __future__ import annotations


class IfssError(Exception):
    """Base class of the errors napari-ifss raises for bad input or misuse."""


class InvalidInputError(IfssError, ValueError):
    """An argument has the wrong shape, dtype or values (NaN, out of range, ...)."""


class UnsupportedFormatError(IfssError, ValueError):
    """A file's extension or content is not a format napari-ifss reads or writes."""


class ReadError(IfssError, OSError):
    """A file exists but could not be read (truncated, corrupt, mixed DICOM series, ...)."""


class NotReadyError(IfssError, RuntimeError):
    """An operation was called before the state it needs exists (e.g. no image set)."""


class WriteError(IfssError, OSError):
    """A file could not be written (no permission, disk full, a format's limits, ...)."""
