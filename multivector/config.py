"""Collection configuration, shaped like ``weaviate.classes.config`` (public import path).

The types live in :mod:`multivector.schema.config`, the ``Configure`` factories in
:mod:`multivector.schema.configure`; this module keeps the documented ``multivector.config`` names.
"""

from multivector.schema.config import (
    CollectionConfig,
    DataType,
    InvertedIndexConfig,
    Property,
    Tokenization,
    VectorConfig,
    VectorIndexConfig,
    validate_collection_name,
    validate_property_name,
)
from multivector.schema.configure import Configure
from multivector.schema.tenancy import MultiTenancyConfig, Tenant

__all__ = [
    "CollectionConfig",
    "Configure",
    "DataType",
    "InvertedIndexConfig",
    "MultiTenancyConfig",
    "Property",
    "Tenant",
    "Tokenization",
    "VectorConfig",
    "VectorIndexConfig",
    "validate_collection_name",
    "validate_property_name",
]
