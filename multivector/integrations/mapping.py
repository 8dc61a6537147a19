"""How a collection holds a framework's document: its text, its metadata, and where filters look.

One small mapping shared by the LangChain and LlamaIndex integrations (it imports neither), so both
read, write and filter any collection the same way, whatever made it: our constructors, the
Weaviate tutorial's calls (a ``DemoCollection`` with properties ``text`` and ``docid``), another
app on Qdrant.

- **Text** is the property ``text_key`` (default ``"text"``).
- **Metadata**, in one of two layouts, chosen from the collection's schema:

  - *nested*: the collection has an OBJECT property ``metadata_key`` (default ``"metadata"``), as
    ``MultiVectorStore.from_texts`` (LangChain) and ``MultiVectorStore.create`` (LlamaIndex)
    make it. The metadata dict is stored there verbatim; a filter on key ``k`` looks at
    ``metadata.k``.
  - *flat*: otherwise. Each metadata key is a property of its own (auto-schema adds new ones,
    typed by their first value, as Weaviate does), so ``{"docid": "doc2"}`` filters the seed's
    ``docid`` property. A key that cannot be a property name (a reserved one such as ``id`` or
    ``uuid``, one that is not an identifier such as ``"page number"``, or one of this mapping's
    own names: ``text_key``, ``metadata_key``, ``_metadata``, ``_node_content``, ``ref_doc_id``)
    and a ``None`` value go verbatim into the OBJECT property ``_metadata`` instead, so they
    round-trip too. Reading, every property but the mapping's own is metadata.

Where a key lives depends only on the key (``None`` values aside, which every filter treats as
missing anyway), so a filter on one key always looks in one place. A filter on a property the
schema does not have (no object ever held that key) is settled by :func:`settle` to what it says
of a missing value: ``{"k": "x"}`` matches nothing, ``{"k": {"$ne": "x"}}`` everything, exactly as
in the nested layout.

Flat properties are typed: a value that does not fit its property's type is rejected by the
collection with an error naming both, an ``int`` stored in a NUMBER property reads back as a
``float``, and a string that looks like an RFC 3339 date first seen under a new key makes a DATE
property. The nested layout keeps every JSON value exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from multivector.errors import ConfigError
from multivector.schema.config import CollectionConfig, DataType, validate_property_name
from multivector.schema.filter_match import leaf_predicate
from multivector.schema.query import (
    ID_TARGET,
    Filter,
    FilterGroup,
    FilterLeaf,
    FilterNode,
    FilterOperator,
    _PropertyFilter,
)

__all__ = [
    "MATCH_NOTHING",
    "METADATA_KEY",
    "NODE_CONTENT_KEY",
    "OVERFLOW_KEY",
    "REF_DOC_KEY",
    "TEXT_KEY",
    "DocumentMapping",
    "settle",
]

TEXT_KEY = "text"
METADATA_KEY = "metadata"
#: The OBJECT property of a flat layout holding keys that cannot be properties (and None values).
OVERFLOW_KEY = "_metadata"
#: LlamaIndex's node JSON (class, relationships, ...): one OBJECT property.
NODE_CONTENT_KEY = "_node_content"
#: LlamaIndex's source-document id: one TEXT property.
REF_DOC_KEY = "ref_doc_id"
#: A filter no object matches (ids are non-empty strings).
MATCH_NOTHING: FilterNode = Filter.by_id().equal("")


def _check_key(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name} must be a non-empty property name, got {value!r}")
    return value


@dataclass(frozen=True)
class DocumentMapping:
    """Which property is the text and where the metadata lives (see the module docstring)."""

    text_key: str = TEXT_KEY
    metadata_key: str = METADATA_KEY
    #: True: metadata in the OBJECT property ``metadata_key``; False: the flat layout.
    nested: bool = True

    @classmethod
    def of(
        cls,
        config: CollectionConfig,
        *,
        text_key: str = TEXT_KEY,
        metadata_key: str = METADATA_KEY,
    ) -> DocumentMapping:
        """The mapping of a collection: nested when it has an OBJECT property ``metadata_key``.

        Raises:
            ConfigError: ``text_key`` names a property that is not text.

        """
        _check_key("text_key", text_key)
        _check_key("metadata_key", metadata_key)
        text = config.property(text_key)
        if text is not None and text.data_type is not DataType.TEXT:
            texts = [p.name for p in config.properties if p.data_type is DataType.TEXT]
            raise ConfigError(
                f"text_key={text_key!r}: property {text_key!r} of {config.name!r} is "
                f"{text.data_type.value!r}, not text; pass text_key= one of {texts}"
            )
        meta = config.property(metadata_key)
        return cls(text_key, metadata_key, meta is not None and meta.data_type is DataType.OBJECT)

    @property
    def layout(self) -> str:
        """``"nested"`` or ``"flat"``."""
        return "nested" if self.nested else "flat"

    @property
    def own_names(self) -> frozenset[str]:
        """Property names this mapping uses itself (never a flat metadata key)."""
        return frozenset(
            {self.text_key, self.metadata_key, OVERFLOW_KEY, NODE_CONTENT_KEY, REF_DOC_KEY}
        )

    def is_property_key(self, key: str) -> bool:
        """Whether metadata key ``key`` is a property of its own (flat layout only)."""
        if self.nested or key.lower() in {n.lower() for n in self.own_names}:
            return False
        try:
            validate_property_name(key)
        except ConfigError:
            return False
        return True

    # ------------------------------------------------------------------ writes
    def properties(self, text: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """The object properties holding ``text`` and ``metadata``."""
        if self.nested:
            return {self.text_key: text, self.metadata_key: dict(metadata)}
        props: dict[str, Any] = {self.text_key: text}
        overflow: dict[str, Any] = {}
        for key, value in metadata.items():
            if not isinstance(key, str):
                raise ConfigError(f"metadata keys must be strings, got {key!r}")
            if value is not None and self.is_property_key(key):
                props[key] = value
            else:
                overflow[key] = value
        if overflow:
            props[OVERFLOW_KEY] = overflow
        return props

    # ------------------------------------------------------------------- reads
    def text(self, props: Mapping[str, Any]) -> str:
        """The text of an object (``""`` when it has none)."""
        value = props.get(self.text_key)
        return value if isinstance(value, str) else ("" if value is None else str(value))

    def metadata(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """The metadata of an object: its metadata property, else its other properties."""
        if self.nested and self.metadata_key in props:
            held = props[self.metadata_key]
            return dict(held) if isinstance(held, Mapping) else {}
        own = self.own_names
        out = {k: v for k, v in props.items() if k not in own and v is not None}
        overflow = props.get(OVERFLOW_KEY)
        if isinstance(overflow, Mapping):
            out.update(overflow)
        return out

    # ----------------------------------------------------------------- filters
    def location(self, key: str) -> tuple[str, tuple[str, ...]]:
        """The property (and path into it) holding metadata key ``key``."""
        if self.nested:
            return self.metadata_key, (key,)
        if self.is_property_key(key):
            return key, ()
        return OVERFLOW_KEY, (key,)

    def field(self, key: str) -> _PropertyFilter:
        """``Filter.by_property(...)`` for metadata key ``key``."""
        name, path = self.location(key)
        return Filter.by_property(name, path=list(path) if path else None)


def settle(node: FilterNode | None, config: CollectionConfig) -> FilterNode | None:
    """``node`` with each leaf on a property the schema lacks replaced by its value for a missing
    property (the ``id`` pseudo-property is always known). None: no restriction.
    """
    if node is None:
        return None
    folded = _fold(node, config)
    if folded is True:
        return None
    if folded is False:
        return MATCH_NOTHING
    return folded


def _fold(node: FilterNode, config: CollectionConfig) -> FilterNode | bool:
    if isinstance(node, FilterLeaf):
        if node.target == ID_TARGET or config.property(node.target) is not None:
            return node
        return bool(leaf_predicate(node)(None))
    children = [_fold(child, config) for child in node.filters]
    if node.operator is FilterOperator.NOT:
        (child,) = children
        return (not child) if isinstance(child, bool) else Filter.not_(child)
    is_and = node.operator is FilterOperator.AND
    if any(c is (not is_and) for c in children):  # AND with False / OR with True
        return not is_and
    rest = [c for c in children if not isinstance(c, bool)]
    if not rest:
        return is_and
    if len(rest) == 1:
        return rest[0]
    return FilterGroup(node.operator, tuple(rest))
