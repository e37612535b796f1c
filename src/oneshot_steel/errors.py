"""Exceptions with messages a learner can act on.

Every error names the offending path or value and says what to do next. They all derive
from :class:`OneShotSteelError`, so a caller (the CLI, a notebook) can catch one type.
"""

from __future__ import annotations


class OneShotSteelError(Exception):
    """Base class of every error this package raises on purpose."""


class DataError(OneShotSteelError):
    """Something is wrong with a data folder, an image or an archive."""


class DataNotFoundError(DataError):
    """A data folder is missing, or the real data could not be found or fetched."""


class EmptyClassError(DataError):
    """A class folder (or class prefix) holds no images."""


class UnknownClassError(DataError):
    """A class name is not one of the known classes."""


class BadImageError(DataError):
    """A file is not an image, or is corrupt or truncated."""


class ChecksumMismatchError(DataError):
    """A file's SHA-256 does not match the manifest."""


class UnsafeArchiveError(DataError):
    """An archive entry would escape the extraction folder (absolute path, '..', link)."""


class FetchError(DataError):
    """Every mirror failed while fetching the data."""


class ModelInputError(OneShotSteelError, ValueError):
    """A tensor given to a model has the wrong shape, channel count or size."""


class CheckpointError(OneShotSteelError):
    """A checkpoint is missing, corrupt, or does not match the model."""


class TrainingDivergedError(OneShotSteelError):
    """A run blew up (NaN/inf loss or weights, or every image got one embedding); the last
    good checkpoint is kept."""


class ModeError(OneShotSteelError, ValueError):
    """MODE is not one of smoke, quick, full or empty."""


class ParameterError(OneShotSteelError, ValueError):
    """A chapter parameter has a value the chapter cannot use."""


class VariantError(OneShotSteelError, ValueError):
    """A variant names a missing notebook or a parameter its parameters cell lacks."""
