"""The Qdrant scale-out backend: the same ``Client`` as ``multivector.connect``, on Qdrant.

``multivector.connect_to_qdrant(url=...)`` (a server or cluster) or
``connect_to_qdrant(location=":memory:")`` / ``path=...`` (qdrant-client's in-process mode) returns
a :class:`~multivector.Client` whose collections live in Qdrant; nothing above the store protocol
knows the difference. Each collection's configuration (JSON) lives in the small Qdrant collection
``_multivector_meta``, so a reopened server lists and opens its collections again. The mapping and
what differs from the embedded store are written down in ``docs/qdrant.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multivector._checks import check_int
from multivector._secrets import Secret
from multivector.backends.qdrant.caller import QdrantCaller, check_server_version, redact_url
from multivector.backends.qdrant.physical import (
    DEFAULT_UPSERT_BATCH,
    META_COLLECTION,
    CollectionMeta,
    QdrantStore,
    meta_id,
)
from multivector.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    OptionalDependencyError,
)
from multivector.results import VerifyReport
from multivector.schema.config import CollectionConfig

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from multivector.backends.qdrant.collection import QdrantCollection

__all__ = ["META_COLLECTION", "CollectionMeta", "QdrantClientBackend", "open_qdrant_client"]

#: The Qdrant collection holding every collection's configuration (not a valid collection name).


class QdrantClientBackend(QdrantStore):
    """The :class:`~multivector.backends.protocol.ClientBackend` over one ``QdrantClient``."""

    def __init__(
        self,
        qdrant: QdrantClient,
        *,
        caller: QdrantCaller,
        local: bool,
        description: Mapping[str, Any],
        upsert_batch_size: int = DEFAULT_UPSERT_BATCH,
    ) -> None:
        super().__init__(qdrant, caller=caller, local=local, upsert_batch_size=upsert_batch_size)
        self._description = dict(description)
        self._handles: dict[str, QdrantCollection] = {}

    def create_collection(self, config: CollectionConfig) -> QdrantCollection:
        """Create the Qdrant collection and record its configuration."""
        from multivector.backends.qdrant.collection import QdrantCollection

        if self.caller.call("check collection", self.qdrant.collection_exists, config.name):
            raise CollectionExistsError(
                f"Qdrant already holds a collection named {config.name!r} that multivector did not "
                "create; delete it in Qdrant or choose another name"
            )
        self._ensure_meta()
        self._create_physical(config.name, config)
        meta = CollectionMeta(config=config, physical=config.name)
        self.ensure_indexes(meta)
        self.save_meta(meta)
        handle = QdrantCollection(self, meta)
        self._handles[config.name] = handle
        return handle

    def open_collection(self, name: str) -> QdrantCollection:
        """Open a collection recorded in ``_multivector_meta``."""
        from multivector.backends.qdrant.collection import QdrantCollection

        metas = self._all_meta()
        meta = metas.get(name)
        if meta is None:
            self._handles.pop(name, None)
            raise CollectionNotFoundError(
                f"no collection named {name!r} in Qdrant at {self._where}"
            )
        handle = self._handles.get(name)
        if handle is None or handle.physical_name != meta.physical:
            handle = QdrantCollection(self, meta)
            self._handles[name] = handle
        return handle

    def list_collections(self) -> dict[str, CollectionConfig]:
        """Every collection's configuration, by name."""
        return {name: meta.config for name, meta in self._all_meta().items()}

    def delete_collection(self, name: str) -> None:
        """Delete a collection's points and its configuration."""
        meta = self._all_meta().get(name)
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.drop()
        if meta is None:
            return
        from qdrant_client import models

        if self.caller.call("check collection", self.qdrant.collection_exists, meta.physical):
            self.caller.call("delete collection", self.qdrant.delete_collection, meta.physical)
        self.caller.call(
            "delete collection config",
            self.qdrant.delete,
            META_COLLECTION,
            points_selector=models.PointIdsList(points=[meta_id(name)]),
            wait=True,
        )

    def backup(self, dest: str | Path) -> None:
        """Qdrant backs up with its own snapshots; see docs/qdrant.md."""
        raise ConfigError(
            f"backup({str(dest)!r}) is not available on the Qdrant backend; use Qdrant snapshots "
            "(QdrantClient.create_snapshot / the server's snapshot API) for both the collections "
            f"and {META_COLLECTION!r}"
        )

    def close(self) -> None:
        """Close the Qdrant connection (the collection handles raise from now on)."""
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
        self.qdrant.close()

    @property
    def _where(self) -> str:
        return str(self._description.get("url") or self._description.get("location") or "")

    def describe(self) -> Mapping[str, Any]:
        """Backend name and location (no credentials)."""
        return dict(self._description)

    def verify(self) -> VerifyReport:
        """Object counts per collection (Qdrant checks its own storage; see docs/qdrant.md)."""
        counts = {name: self.open_collection(name).count() for name in self._all_meta()}
        return VerifyReport(f"qdrant {self._where}", counts)


def _secret(api_key: object) -> Secret | None:
    if api_key is None or isinstance(api_key, Secret):
        return api_key
    if not isinstance(api_key, str):
        raise ConfigError(f"api_key must be a str or None, got {type(api_key).__name__}")
    return Secret(api_key) if api_key.strip() else None


def _new_qdrant(
    factory: Callable[..., QdrantClient], secret: Secret | None, **options: Any
) -> QdrantClient:
    return factory(api_key=secret.get() if secret is not None else None, **options)


def open_qdrant_client(
    url: str | None = None,
    api_key: str | Secret | None = None,
    location: str | None = None,
    path: str | Path | None = None,
    **client_options: Any,
) -> QdrantClientBackend:
    """Connect to Qdrant and return the backend ``multivector.connect_to_qdrant`` wraps.

    ``url`` is a server or cluster (``"http://localhost:6333"``); ``location=":memory:"`` or
    ``path=...`` run qdrant-client's in-process mode. ``client_options`` go to ``QdrantClient``
    (``timeout``, ``prefer_grpc``, ``https``, ...) except two of ours: ``max_retries`` (transient
    failures, default 3) and ``upsert_batch_size`` (points per request, default 256). A server
    is asked for its version at once: unreachable, unauthorised or too old raises BackendError.
    """
    try:
        from qdrant_client import QdrantClient
    except ImportError as exc:
        raise OptionalDependencyError("qdrant-client", "qdrant") from exc
    secret = _secret(api_key)
    del api_key  # no frame of ours keeps the raw key (error reporters print frame locals)
    max_retries = check_int("max_retries", client_options.pop("max_retries", 3), 0)
    batch_size = check_int(
        "upsert_batch_size", client_options.pop("upsert_batch_size", DEFAULT_UPSERT_BATCH), 1
    )
    given = [name for name, v in (("url", url), ("location", location), ("path", path)) if v]
    if len(given) > 1 or (not given and "host" not in client_options):
        raise ConfigError(
            f"connect_to_qdrant: pass exactly one of url=..., location=':memory:' or path=... "
            f"(got {given or 'none'})"
        )
    local = path is not None or location == ":memory:"
    where = "memory" if location == ":memory:" else str(path or redact_url(url or location))
    if client_options.get("host"):
        where = str(client_options["host"])
    caller = QdrantCaller(where=where, secret=secret, max_retries=max_retries, serialise=local)
    if not local:
        client_options.setdefault("check_compatibility", False)
    qdrant = caller.call(
        "connect",
        _new_qdrant,
        QdrantClient,
        secret,
        url=url,
        location=location,
        path=str(path) if path is not None else None,
        **client_options,
    )
    if not local:
        info = caller.call("read the server version", qdrant.info)
        check_server_version(str(info.version), where=where)
    description = {
        "backend": "qdrant",
        "url": redact_url(url),
        "location": location,
        "path": str(path) if path is not None else None,
    }
    return QdrantClientBackend(
        qdrant,
        caller=caller,
        local=local,
        description=description,
        upsert_batch_size=batch_size,
    )
