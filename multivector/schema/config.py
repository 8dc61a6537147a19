"""Collection configuration, shaped like ``weaviate.classes.config``.

``Configure.MultiVectors.self_provided(name=...)`` / ``text2vec(...)`` / ``text2vec_jinaai(...)``
declare named multi-vector spaces; ``Property`` and ``DataType`` declare the schema;
``Configure.inverted_index(...)`` sets BM25 parameters. Every config is a small frozen dataclass
that serialises to plain JSON (``to_dict`` / ``from_dict``) so the durable store can keep it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.util import find_spec
from typing import Any, Literal

from multivector._checks import check_int
from multivector._types import MultiVectorEmbedder, StrEnum
from multivector.errors import ConfigError, OptionalDependencyError
from multivector.schema.tenancy import MultiTenancyConfig

__all__ = [
    "CollectionConfig",
    "DataType",
    "InvertedIndexConfig",
    "Property",
    "Tokenization",
    "VectorConfig",
    "VectorIndexConfig",
    "validate_collection_name",
    "validate_property_name",
]

#: Names are matched whole (``fullmatch``: a trailing newline is not a name's end).
_COLLECTION_NAME = re.compile(r"[A-Z][_0-9A-Za-z]*")
_PROPERTY_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_RESERVED_PROPERTIES = frozenset({"id", "_id", "_additional", "vector", "vectors", "uuid"})
MAX_NAME_LENGTH = 230

#: Token storage of a space: float16 (default), float32, or int8 with one float32 scale per token.
VectorDType = Literal["float16", "float32", "int8"]


class DataType(StrEnum):
    """Property types (values as Weaviate spells them)."""

    TEXT = "text"
    TEXT_ARRAY = "text[]"
    INT = "int"
    INT_ARRAY = "int[]"
    NUMBER = "number"
    NUMBER_ARRAY = "number[]"
    BOOL = "boolean"
    BOOL_ARRAY = "boolean[]"
    DATE = "date"
    DATE_ARRAY = "date[]"
    UUID = "uuid"
    UUID_ARRAY = "uuid[]"
    #: Any JSON-serialisable value, stored verbatim; filters reach into it with ``path=``.
    OBJECT = "object"

    @property
    def is_array(self) -> bool:
        """Whether values of this type are lists."""
        return self.value.endswith("[]")

    @property
    def element(self) -> DataType:
        """The scalar type of one element (the type itself for scalars)."""
        return DataType(self.value[:-2]) if self.is_array else self

    @property
    def is_text(self) -> bool:
        """Whether BM25 indexes this type (TEXT and TEXT_ARRAY)."""
        return self in (DataType.TEXT, DataType.TEXT_ARRAY)


class Tokenization(StrEnum):
    """How text is split into BM25 terms (Weaviate's tokenization options)."""

    WORD = "word"
    LOWERCASE = "lowercase"
    WHITESPACE = "whitespace"
    FIELD = "field"
    #: ``word``, then each term reduced to its Snowball English stem (extra ``[stemming]``).
    WORD_STEM_EN = "word_stem_en"

    @property
    def drops_stopwords(self) -> bool:
        """Whether BM25 queries drop stopwords under this tokenization (the word-based ones)."""
        return self in (Tokenization.WORD, Tokenization.WORD_STEM_EN)


def validate_collection_name(name: object) -> str:
    """Return ``name`` if it follows Weaviate's collection naming rules, else raise ConfigError."""
    if (
        not isinstance(name, str)
        or not _COLLECTION_NAME.fullmatch(name)
        or len(name) > MAX_NAME_LENGTH
    ):
        hint = ""
        if (
            isinstance(name, str)
            and name[:1].islower()
            and _COLLECTION_NAME.fullmatch(name[:1].upper() + name[1:])
        ):
            hint = f" (did you mean {name[:1].upper() + name[1:]!r}?)"
        raise ConfigError(
            f"invalid collection name {name!r}: a collection name starts with a capital letter and "
            f"holds only letters, digits and underscores{hint}"
        )
    return name


def validate_property_name(name: object) -> str:
    """Return ``name`` if it is a valid, unreserved property name, else raise ConfigError."""
    if (
        not isinstance(name, str)
        or not _PROPERTY_NAME.fullmatch(name)
        or len(name) > MAX_NAME_LENGTH
    ):
        raise ConfigError(
            f"invalid property name {name!r}: property names start with a letter or underscore and "
            "hold only letters, digits and underscores"
        )
    if name.lower() in _RESERVED_PROPERTIES:
        raise ConfigError(f"property name {name!r} is reserved; choose another name")
    return name


@dataclass(frozen=True)
class Property:
    """One property of a collection's schema."""

    name: str
    data_type: DataType
    tokenization: Tokenization | None = None
    index_searchable: bool = True
    index_filterable: bool = True
    description: str | None = None

    def __post_init__(self) -> None:
        validate_property_name(self.name)
        try:
            object.__setattr__(self, "data_type", DataType(self.data_type))
        except ValueError:
            raise ConfigError(
                f"property {self.name!r}: unknown data_type {self.data_type!r}; use one of "
                f"{[d.value for d in DataType]}"
            ) from None
        if self.tokenization is not None:
            try:
                object.__setattr__(self, "tokenization", Tokenization(self.tokenization))
            except ValueError:
                raise ConfigError(
                    f"property {self.name!r}: unknown tokenization {self.tokenization!r}; use one of "
                    f"{[t.value for t in Tokenization]}"
                ) from None
        elif self.data_type.is_text:
            object.__setattr__(self, "tokenization", Tokenization.WORD)
        if self.tokenization is Tokenization.WORD_STEM_EN and find_spec("snowballstemmer") is None:
            raise OptionalDependencyError("snowballstemmer", "stemming")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "name": self.name,
            "data_type": self.data_type.value,
            "tokenization": self.tokenization.value if self.tokenization else None,
            "index_searchable": self.index_searchable,
            "index_filterable": self.index_filterable,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Property:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            data_type=DataType(data["data_type"]),
            tokenization=Tokenization(data["tokenization"]) if data.get("tokenization") else None,
            index_searchable=bool(data.get("index_searchable", True)),
            index_filterable=bool(data.get("index_filterable", True)),
            description=data.get("description"),
        )


@dataclass(frozen=True)
class VectorIndexConfig:
    """How a vector space is searched: ``exact`` (default) or an approximate index kind."""

    kind: str = "exact"
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"kind": self.kind, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VectorIndexConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(kind=str(data.get("kind", "exact")), params=dict(data.get("params", {})))


@dataclass(frozen=True)
class VectorConfig:
    """One named multi-vector space.

    ``vectorizer`` is ``"none"`` (self provided), ``"text2vec"`` (a user's embedder object) or
    ``"text2vec_jinaai"``. ``dimension`` is fixed by configuration or by the first insert.
    ``dtype`` is the embedded store's token storage: ``"float16"`` (default), ``"float32"``, or
    ``"int8"`` (symmetric per-token quantisation, one float32 scale per token: ``dim + 4`` bytes
    per token; the Qdrant backend stores int8 spaces as exact float32). ``pool_factor`` > 1 pools
    what is stored at insert (:mod:`multivector.kernels.token_pooling`), never queries.
    """

    name: str
    vectorizer: str = "none"
    source_properties: tuple[str, ...] = ()
    dimension: int | None = None
    dtype: VectorDType = "float16"
    index: VectorIndexConfig = field(default_factory=VectorIndexConfig)
    vectorizer_params: Mapping[str, Any] = field(default_factory=dict)
    embedder: MultiVectorEmbedder | None = field(default=None, compare=False, repr=False)
    pool_factor: int = 1

    def __post_init__(self) -> None:
        validate_property_name(self.name)
        check_int(f"vector {self.name!r}: pool_factor", self.pool_factor, 1)
        if self.dtype not in ("float16", "float32", "int8"):
            raise ConfigError(
                f"vector {self.name!r}: dtype {self.dtype!r} is not supported; "
                "use 'float16' (default), 'float32' or 'int8' (per-token scales)"
            )
        if self.dimension is not None and (
            isinstance(self.dimension, bool)
            or not isinstance(self.dimension, int)
            or self.dimension < 1
        ):
            raise ConfigError(
                f"vector {self.name!r}: dimension must be a positive int, got {self.dimension!r}"
            )
        object.__setattr__(self, "source_properties", tuple(self.source_properties))

    @property
    def has_vectorizer(self) -> bool:
        """Whether objects and queries can be embedded from text."""
        return self.vectorizer != "none"

    def with_dimension(self, dimension: int) -> VectorConfig:
        """A copy whose dimension is fixed to ``dimension``."""
        return replace(self, dimension=dimension)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the embedder object itself is not serialised)."""
        return {
            "name": self.name,
            "vectorizer": self.vectorizer,
            "source_properties": list(self.source_properties),
            "dimension": self.dimension,
            "dtype": self.dtype,
            "index": self.index.to_dict(),
            "vectorizer_params": dict(self.vectorizer_params),
            "pool_factor": self.pool_factor,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VectorConfig:
        """Inverse of :meth:`to_dict`; a ``text2vec`` space comes back without its embedder."""
        return cls(
            name=data["name"],
            vectorizer=data.get("vectorizer", "none"),
            source_properties=tuple(data.get("source_properties", ())),
            dimension=data.get("dimension"),
            dtype=data.get("dtype", "float16"),
            index=VectorIndexConfig.from_dict(data.get("index", {})),
            vectorizer_params=dict(data.get("vectorizer_params", {})),
            pool_factor=data.get("pool_factor", 1),
        )


@dataclass(frozen=True)
class InvertedIndexConfig:
    """BM25 settings: ``scoring`` is ``"weaviate"`` (default) or ``"rank_bm25"``."""

    bm25_k1: float | None = None
    bm25_b: float = 0.75
    scoring: Literal["weaviate", "rank_bm25"] = "weaviate"
    stopwords_preset: Literal["en", "none"] = "en"
    stopwords_additions: tuple[str, ...] = ()
    stopwords_removals: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.scoring not in ("weaviate", "rank_bm25"):
            raise ConfigError(f"scoring {self.scoring!r} is unknown; use 'weaviate' or 'rank_bm25'")
        if self.stopwords_preset not in ("en", "none"):
            raise ConfigError(
                f"stopwords_preset {self.stopwords_preset!r} is unknown; use 'en' or 'none'"
            )
        if self.bm25_k1 is not None and not (self.bm25_k1 >= 0):
            raise ConfigError(f"bm25_k1 must be >= 0, got {self.bm25_k1!r}")
        if not (0.0 <= self.bm25_b <= 1.0):
            raise ConfigError(f"bm25_b must be within [0, 1], got {self.bm25_b!r}")
        object.__setattr__(self, "stopwords_additions", tuple(self.stopwords_additions))
        object.__setattr__(self, "stopwords_removals", tuple(self.stopwords_removals))

    @property
    def k1(self) -> float:
        """k1 in force: the configured one, else 1.2 (weaviate) or 1.5 (rank_bm25)."""
        if self.bm25_k1 is not None:
            return float(self.bm25_k1)
        return 1.5 if self.scoring == "rank_bm25" else 1.2

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "bm25_k1": self.bm25_k1,
            "bm25_b": self.bm25_b,
            "scoring": self.scoring,
            "stopwords_preset": self.stopwords_preset,
            "stopwords_additions": list(self.stopwords_additions),
            "stopwords_removals": list(self.stopwords_removals),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InvertedIndexConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(
            bm25_k1=data.get("bm25_k1"),
            bm25_b=float(data.get("bm25_b", 0.75)),
            scoring=data.get("scoring", "weaviate"),
            stopwords_preset=data.get("stopwords_preset", "en"),
            stopwords_additions=tuple(data.get("stopwords_additions", ())),
            stopwords_removals=tuple(data.get("stopwords_removals", ())),
        )


@dataclass(frozen=True)
class CollectionConfig:
    """Everything that defines a collection; persisted as JSON by durable backends."""

    name: str
    properties: tuple[Property, ...] = ()
    vectors: tuple[VectorConfig, ...] = ()
    inverted_index: InvertedIndexConfig = field(default_factory=InvertedIndexConfig)
    auto_schema: bool = True
    description: str | None = None
    multi_tenancy: MultiTenancyConfig = field(default_factory=MultiTenancyConfig)

    def __post_init__(self) -> None:
        validate_collection_name(self.name)
        seen: set[str] = set()
        for prop in self.properties:
            if prop.name.lower() in seen:
                raise ConfigError(
                    f"collection {self.name!r}: property {prop.name!r} is declared twice"
                )
            seen.add(prop.name.lower())
        names = [v.name for v in self.vectors]
        if len(set(names)) != len(names):
            raise ConfigError(f"collection {self.name!r}: a vector name is declared twice: {names}")

    def property(self, name: str) -> Property | None:
        """The property called ``name``, or None."""
        for prop in self.properties:
            if prop.name == name:
                return prop
        return None

    def vector(self, name: str) -> VectorConfig | None:
        """The vector space called ``name``, or None."""
        for vec in self.vectors:
            if vec.name == name:
                return vec
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "name": self.name,
            "properties": [p.to_dict() for p in self.properties],
            "vectors": [v.to_dict() for v in self.vectors],
            "inverted_index": self.inverted_index.to_dict(),
            "auto_schema": self.auto_schema,
            "description": self.description,
            "multi_tenancy": self.multi_tenancy.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CollectionConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            properties=tuple(Property.from_dict(p) for p in data.get("properties", ())),
            vectors=tuple(VectorConfig.from_dict(v) for v in data.get("vectors", ())),
            inverted_index=InvertedIndexConfig.from_dict(data.get("inverted_index", {})),
            auto_schema=bool(data.get("auto_schema", True)),
            description=data.get("description"),
            multi_tenancy=MultiTenancyConfig.from_dict(data.get("multi_tenancy")),
        )
