"""``Client`` and ``client.collections``: create, open, list and delete collections on any backend."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from multivector._types import MultiVectorEmbedder
from multivector.api.collection import Collection
from multivector.backends.protocol import ClientBackend
from multivector.embeddings.factory import builtin_vector_config
from multivector.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    MultiVectorError,
    StorageError,
)
from multivector.results import VerifyReport
from multivector.schema.config import (
    CollectionConfig,
    InvertedIndexConfig,
    Property,
    VectorConfig,
    validate_collection_name,
)
from multivector.schema.tenancy import (
    TENANT_MARK,
    MultiTenancyConfig,
    is_tenant_collection,
    tenant_of,
)

__all__ = ["Client", "Collections"]


class Collections:
    """``client.collections``, as in the Weaviate v4 client."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._handles: dict[str, Collection] = {}

    def _backend(self) -> ClientBackend:
        return self._client.backend

    def create(
        self,
        name: str,
        *,
        vector_config: VectorConfig | Sequence[VectorConfig] | None = None,
        properties: Sequence[Property] | None = None,
        inverted_index_config: InvertedIndexConfig | None = None,
        auto_schema: bool = True,
        description: str | None = None,
        multi_tenancy_config: MultiTenancyConfig | None = None,
    ) -> Collection:
        """Create a collection; an existing name is a :class:`CollectionExistsError`.
        ``multi_tenancy_config=Configure.multi_tenancy(enabled=True)`` keeps objects in tenants.
        """
        validate_collection_name(name)
        if is_tenant_collection(name):
            raise ConfigError(
                f"invalid collection name {name!r}: {TENANT_MARK!r} is reserved for tenants"
            )
        if multi_tenancy_config is not None and not isinstance(
            multi_tenancy_config, MultiTenancyConfig
        ):
            raise ConfigError(
                "multi_tenancy_config must come from Configure.multi_tenancy(...), got "
                f"{type(multi_tenancy_config).__name__}"
            )
        if self.exists(name):
            raise CollectionExistsError(
                f"a collection named {name!r} already exists; open it with client.collections.use({name!r}) "
                "or delete it first"
            )
        if isinstance(vector_config, VectorConfig):
            vectors: tuple[VectorConfig, ...] = (vector_config,)
        else:
            vectors = tuple(vector_config or ())
        for vec in vectors:
            if not isinstance(vec, VectorConfig):
                raise ConfigError(
                    f"vector_config items must come from Configure.MultiVectors.*, got {type(vec).__name__}"
                )
        vectors = tuple(builtin_vector_config(vec) for vec in vectors)  # built-ins as settings
        for prop in properties or ():
            if not isinstance(prop, Property):
                raise ConfigError(
                    f"properties items must be Property(...), got {type(prop).__name__}"
                )
        config = CollectionConfig(
            name=name,
            properties=tuple(properties or ()),
            vectors=vectors,
            inverted_index=inverted_index_config or InvertedIndexConfig(),
            auto_schema=auto_schema,
            description=description,
            multi_tenancy=multi_tenancy_config or MultiTenancyConfig(),
        )
        for vec in vectors:
            for source in vec.source_properties:
                declared = config.property(source)
                if declared is not None and not declared.data_type.is_text:
                    raise ConfigError(
                        f"vector {vec.name!r}: source property {source!r} is {declared.data_type.value!r}; "
                        "source properties must be text"
                    )
        backend = self._backend().create_collection(config)
        handle = Collection(backend, embedder_factory=self._client.make_embedder)
        handle._client_backend = self._backend
        self._handles[name] = handle
        return handle

    def create_from_config(self, config: CollectionConfig) -> Collection:
        """Create a collection from a full :class:`CollectionConfig`."""
        return self.create(
            config.name,
            vector_config=config.vectors,
            properties=config.properties,
            inverted_index_config=config.inverted_index,
            auto_schema=config.auto_schema,
            description=config.description,
            multi_tenancy_config=config.multi_tenancy,
        )

    def use(
        self, name: str, *, embedders: Mapping[str, MultiVectorEmbedder] | None = None
    ) -> Collection:
        """Open an existing collection; ``embedders`` supplies custom ``text2vec`` embedders again
        after a reopen (they are objects, not configuration, so they are not persisted).
        """
        try:
            if is_tenant_collection(name):
                raise CollectionNotFoundError(name)
            backend = self._backend().open_collection(name)
        except CollectionNotFoundError:
            self._handles.pop(name, None)
            raise CollectionNotFoundError(
                f"no collection named {name!r}; existing: {sorted(self.list_all())}"
            ) from None
        handle = self._handles.get(name)
        if handle is None or handle.raw_backend() is not backend:
            # First use, or the collection was deleted (and maybe re-created) since: a new
            # handle; the old one raises CollectionNotFoundError on every call.
            handle = Collection(
                backend, embedder_factory=self._client.make_embedder, embedders=embedders
            )
            handle._client_backend = self._backend
            self._handles[name] = handle
        elif embedders:
            handle._embedders.update(embedders)
        return handle

    def get(
        self, name: str, *, embedders: Mapping[str, MultiVectorEmbedder] | None = None
    ) -> Collection:
        """Alias of :meth:`use` (Weaviate's older spelling)."""
        return self.use(name, embedders=embedders)

    def exists(self, name: str) -> bool:
        """Whether a collection of that name exists."""
        return not is_tenant_collection(name) and name in self._backend().list_collections()

    def delete(self, name: str | Sequence[str]) -> None:
        """Delete one or several collections (missing names are ignored, as in Weaviate)."""
        for each in [name] if isinstance(name, str) else list(name):
            self._handles.pop(each, None)
            if self.exists(each):
                for internal in self._backend().list_collections():  # its tenants first
                    if tenant_of(each, internal) is not None:
                        self._backend().delete_collection(internal)
                self._backend().delete_collection(each)

    def delete_all(self) -> None:
        """Delete every collection."""
        self.delete(list(self.list_all()))

    def list_all(self) -> dict[str, CollectionConfig]:
        """Every collection's configuration, by name."""
        found = self._backend().list_collections()
        return {n: c for n, c in found.items() if not is_tenant_collection(n)}


class Client:
    """A connection to one store. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        backend: ClientBackend,
        *,
        headers: Mapping[str, str] | None = None,
        embedder_factory: Callable[[VectorConfig], MultiVectorEmbedder | None] | None = None,
    ) -> None:
        self._backend = backend
        self._header_names = sorted(k.lower() for k in (headers or {}))
        self._embedder_factory = embedder_factory
        self._closed = False
        self.collections = Collections(self)

    @property
    def backend(self) -> ClientBackend:
        """The storage backend."""
        if self._closed:
            raise ConfigError("this client is closed; open a new one with multivector.connect(...)")
        return self._backend

    def make_embedder(self, vec: VectorConfig) -> MultiVectorEmbedder | None:
        """The built-in embedder of a space (None for self-provided and custom spaces)."""
        return None if self._embedder_factory is None else self._embedder_factory(vec)

    def is_ready(self) -> bool:
        """Whether the client can serve requests."""
        return not self._closed

    def verify(self) -> VerifyReport:
        """Check everything the store holds (a durable store: SQLite's integrity check, every
        row's checksum, every collection's row count, every cache file's CRC). Returns a report;
        ``report.ok`` is True when nothing is damaged. ``python -m multivector verify PATH`` runs it.
        """
        return self.backend.verify()

    def backup(self, dest: str | Path) -> None:
        """Write a consistent copy of the whole store to ``dest`` while reads go on."""
        self.backend.backup(dest)

    def close(self) -> None:
        """Release files, locks and connections, and close the embedders this client built
        (their HTTP pools); the client cannot be used afterwards.
        """
        if not self._closed:
            self._closed = True  # whatever happens below, the client is closed
            try:
                close = getattr(self._embedder_factory, "close", None)
                self._forget_embedders(close() if callable(close) else ())
            finally:
                try:
                    self._backend.close()
                except MultiVectorError:
                    raise
                except OSError as exc:  # e.g. a full disk while the store folds its WAL
                    raise StorageError(
                        f"closing the store failed ({exc}); every file and lock was released, "
                        "and every acknowledged write is safe in the store file"
                    ) from exc

    async def aclose(self) -> None:
        """Async :meth:`close`: the built embedders' async HTTP pools are closed on this loop."""
        if not self._closed:
            aclose = getattr(self._embedder_factory, "aclose", None)
            self._forget_embedders(await aclose() if callable(aclose) else ())
        self.close()

    def _forget_embedders(self, built: Sequence[object]) -> None:
        """Drop closed built-in embedders from every handle, so no call reopens their pools."""
        closed = {id(embedder) for embedder in built}
        for handle in self.collections._handles.values():
            for space in [s for s, e in handle._embedders.items() if id(e) in closed]:
                del handle._embedders[space]

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        info = dict(self._backend.describe())
        headers = self._header_names
        state = "closed" if self._closed else "open"
        return f"<multivector.Client {state} {info} headers={headers}>"
