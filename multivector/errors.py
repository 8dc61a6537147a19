"""The one error tree of multivector.

Every error the library raises on purpose derives from :class:`MultiVectorError` and from the
built-in exception a caller would naturally catch (``ValueError`` for bad input, ``LookupError``
for a missing thing, ``OSError`` for storage, ``ImportError`` for a missing extra), so existing
``except ValueError`` blocks keep working.

    MultiVectorError
    ├── ConfigError (ValueError)                 bad configuration, name or argument
    │   ├── FilterError                          unknown property / operator, wrong operand type
    │   └── CollectionExistsError                create() of a name that exists
    ├── InvalidObjectError (ValueError)          an object that cannot be stored (wrong property type, ...)
    │   ├── ObjectExistsError                    data.insert() of a uuid that is stored
    │   └── InvalidVectorError                   1-D / 3-D / empty / ragged / NaN / inf matrices
    │       └── DimensionMismatchError           a matrix whose width differs from the space's
    ├── NotFoundError (LookupError)
    │   ├── CollectionNotFoundError
    │   └── ObjectNotFoundError
    ├── StorageError (OSError)                   the durable store
    │   ├── StorageFormatError                   damaged file (store or model weights) or a newer format
    │   └── StoreLockedError                     another process holds the write lock
    ├── BackendError (RuntimeError)              a scale-out backend (Qdrant) failed or is too old
    ├── EmbeddingError (RuntimeError)            the embedding provider failed
    │   ├── AuthenticationError                  401 / 403 or no API key
    │   ├── EmbeddingValidationError (ValueError)  400 / 422, carries the API's ``detail``
    │   ├── RateLimitError                       429 after retries; ``retry_after`` seconds
    │   ├── EmbeddingTimeout (TimeoutError)      connect / read timeouts after retries
    │   └── EmbeddingServerError                 5xx after retries
    └── OptionalDependencyError (ImportError)    an extra is not installed; names the pip command

Lower-layer exceptions (sqlite3, httpx, numpy, qdrant-client) are translated at exactly one
boundary with ``raise ... from exc``; messages name the bad value and the fix, never a secret.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BackendError",
    "CollectionExistsError",
    "CollectionNotFoundError",
    "ConfigError",
    "DimensionMismatchError",
    "EmbeddingError",
    "EmbeddingServerError",
    "EmbeddingTimeout",
    "EmbeddingValidationError",
    "FilterError",
    "InvalidObjectError",
    "InvalidVectorError",
    "MultiVectorError",
    "NotFoundError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "OptionalDependencyError",
    "RateLimitError",
    "StorageError",
    "StorageFormatError",
    "StorageWarning",
    "StoreLockedError",
]


class MultiVectorError(Exception):
    """Root of every error multivector raises on purpose."""


class ConfigError(MultiVectorError, ValueError):
    """A configuration, name or argument is invalid; the message says which and how to fix it."""


class FilterError(ConfigError):
    """A filter names an unknown property or operator, or an operand of the wrong type."""


class CollectionExistsError(ConfigError):
    """``collections.create`` was given a name that already exists."""


class InvalidObjectError(MultiVectorError, ValueError):
    """An object cannot be stored; nothing of it was written."""


class ObjectExistsError(InvalidObjectError):
    """``data.insert`` of a uuid that is already stored (use ``replace`` or ``update``)."""


class InvalidVectorError(InvalidObjectError):
    """A vector is not a non-empty 2-D matrix of finite numbers."""


class DimensionMismatchError(InvalidVectorError):
    """A matrix's width differs from its vector space's dimension."""


class NotFoundError(MultiVectorError, LookupError):
    """Something that was asked for does not exist."""

    def __str__(self) -> str:  # LookupError/KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class CollectionNotFoundError(NotFoundError):
    """No collection of that name."""


class ObjectNotFoundError(NotFoundError):
    """No object with that uuid."""


class StorageError(MultiVectorError, OSError):
    """The durable store could not be read or written."""


class StorageFormatError(StorageError):
    """A file (a store, or model weights) is damaged, or was written by a newer format version."""


class StorageWarning(UserWarning):
    """A derived cache file of the store was damaged and is being rebuilt from SQLite."""


class StoreLockedError(StorageError):
    """Another process holds the write lock of this store."""


class BackendError(MultiVectorError, RuntimeError):
    """A scale-out backend failed, could not be reached, or lacks a needed feature."""


class EmbeddingError(MultiVectorError, RuntimeError):
    """The embedding provider failed."""


class AuthenticationError(EmbeddingError):
    """The provider rejected the API key, or no key was configured."""


class EmbeddingValidationError(EmbeddingError, ValueError):
    """The provider rejected the request (HTTP 400 / 422); ``detail`` holds its explanation."""

    def __init__(self, message: str, detail: object = None) -> None:
        super().__init__(message)
        self.detail = detail


class RateLimitError(EmbeddingError):
    """Still rate limited (HTTP 429) after every retry; ``retry_after`` is the last hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EmbeddingTimeout(EmbeddingError, TimeoutError):
    """The provider did not answer in time, after every retry."""


class EmbeddingServerError(EmbeddingError):
    """The provider kept failing with 5xx answers, after every retry."""


class OptionalDependencyError(MultiVectorError, ImportError):
    """An optional extra is missing; the message gives the exact ``pip install`` command."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package!r} is not installed; install it with: pip install 'multivector[{extra}]'"
        )
        self.package = package
        self.extra = extra
