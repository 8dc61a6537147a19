"""From what users pass to validated records: ids, auto-schema, matrices, and text embedding.

Three phases shared by the sync and async import paths: :func:`plan_objects` validates every object
and collects the texts a ``text2vec`` space must embed; the caller embeds them (sync or async);
:func:`finish_objects` checks the returned matrices and builds the records. A rejected object
becomes a :class:`~multivector.results.BatchFailure`; nothing of it is stored.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from multivector._types import F32Array, Matrix
from multivector.backends.protocol import ObjectRecord
from multivector.errors import (
    EmbeddingError,
    InvalidObjectError,
    InvalidVectorError,
    MultiVectorError,
)
from multivector.results import BatchFailure
from multivector.schema.config import CollectionConfig, Property, VectorConfig
from multivector.schema.validation import coerce_properties, validate_matrix, validate_uuid
from multivector.text.source import source_parts, source_properties

__all__ = [
    "DataObject",
    "EmbedJob",
    "ObjectPlan",
    "fail_job",
    "finish_objects",
    "plan_objects",
    "source_properties",
    "source_text",
]

_FLOAT16_MAX = 65504.0


@dataclass
class DataObject:
    """One object to import: properties, an optional uuid and optional vector(s).

    ``vector`` is a matrix (when the collection has one vector space) or ``{name: matrix}``.
    """

    properties: Mapping[str, Any] | None = None
    uuid: str | _uuid.UUID | None = None
    vector: Any = None


@dataclass
class EmbedJob:
    """Texts one ``text2vec`` space must embed: ``positions`` index into the plan's objects."""

    space: str
    positions: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


@dataclass
class ObjectPlan:
    """The validated state of a batch between planning and finishing."""

    config: CollectionConfig
    uuids: list[str | None]
    properties: list[dict[str, Any]]
    vectors: list[dict[str, F32Array]]
    failures: dict[int, str]
    jobs: list[EmbedJob]
    originals: list[dict[str, Any]]
    errors: dict[int, BaseException] = field(default_factory=dict)
    #: Per object, the spaces whose matrix was carried over from the stored object (``update``).
    kept: dict[int, frozenset[str]] = field(default_factory=dict)
    #: The schema the plan was validated against (``config`` is that plus what the batch adds).
    config_before: CollectionConfig | None = None


def source_text(properties: Mapping[str, Any], vec: VectorConfig, config: CollectionConfig) -> str:
    """The text a ``text2vec`` space embeds (see :mod:`multivector.text.source`)."""
    return source_parts(properties, vec, config)[0]


def _resolve_vectors(vector: Any, config: CollectionConfig, where: str) -> dict[str, Any]:
    if vector is None:
        return {}
    if isinstance(vector, Mapping):
        for name in vector:
            if config.vector(name) is None:
                raise InvalidVectorError(
                    f"{where}: unknown vector name {name!r}; this collection has "
                    f"{[v.name for v in config.vectors]}"
                )
        return dict(vector)
    if len(config.vectors) == 1:
        return {config.vectors[0].name: vector}
    if not config.vectors:
        raise InvalidVectorError(
            f"{where}: collection {config.name!r} has no vector space; add one with "
            "Configure.MultiVectors.self_provided(name=...)"
        )
    raise InvalidVectorError(
        f"{where}: collection {config.name!r} has several vector spaces "
        f"{[v.name for v in config.vectors]}; pass vector={{name: matrix}}"
    )


def check_matrix(value: Any, vec: VectorConfig, where: str) -> F32Array:
    """Validate one matrix for ``vec`` (shape, finiteness, dimension, float16 range) and, for a
    space with ``pool_factor`` > 1, pool its tokens: every matrix an object stores (given by the
    user or returned by the space's embedder, on every write verb) passes here, queries do not.
    """
    matrix = validate_matrix(value, where=f"{where}, vector {vec.name!r}", dimension=vec.dimension)
    if vec.dtype in ("float16", "int8") and float(np.abs(matrix).max()) > _FLOAT16_MAX:
        raise InvalidVectorError(
            f"{where}, vector {vec.name!r}: values beyond +/-65504 overflow float16 storage "
            f"(dtype {vec.dtype!r} keeps float16 rows in the store file); "
            "normalise the vectors or configure the space with dtype='float32'"
        )
    if vec.pool_factor > 1:
        from multivector.kernels.token_pooling import pool_tokens  # loads numba

        matrix = pool_tokens(matrix, vec.pool_factor)
    return matrix


def _fix_dimension(config: CollectionConfig, name: str, dim: int) -> CollectionConfig:
    vectors = tuple(v.with_dimension(dim) if v.name == name else v for v in config.vectors)
    return replace(config, vectors=vectors)


def _add_properties(config: CollectionConfig, props: Sequence[Property]) -> CollectionConfig:
    return replace(config, properties=config.properties + tuple(props))


def plan_objects(
    objects: Sequence[DataObject],
    config: CollectionConfig,
    *,
    start_index: int = 0,
    existing_vectors: Sequence[Mapping[str, F32Array]] | None = None,
) -> ObjectPlan:
    """Validate ``objects``; auto-schema and first-insert dimensions update the returned config.

    ``existing_vectors`` (per object) are kept for spaces the object does not re-specify: used
    by ``update`` so unchanged vectors are not re-embedded.
    """
    plan = ObjectPlan(config, [], [], [], {}, [], [], config_before=config)
    jobs: dict[str, EmbedJob] = {}
    for i, obj in enumerate(objects):
        where = f"object #{start_index + i}"
        plan.originals.append(
            {"properties": obj.properties, "uuid": obj.uuid, "has_vector": obj.vector is not None}
        )
        uid: str | None = obj.uuid if isinstance(obj.uuid, str) else None  # as given, until valid
        try:
            uid = (
                validate_uuid(obj.uuid, where=where) if obj.uuid is not None else str(_uuid.uuid4())
            )
            where = f"{where} (uuid {uid})"
            props, new_props = coerce_properties(obj.properties, plan.config, where=where)
            raw = _resolve_vectors(obj.vector, plan.config, where)
            matrices: dict[str, F32Array] = {}
            for name, value in raw.items():
                vec = plan.config.vector(name)
                if vec is None:  # pragma: no cover - _resolve_vectors checked the name
                    continue
                matrices[name] = check_matrix(value, vec, where)
            # The schema this object implies (auto-schema properties, first-insert dimensions):
            # built here so a conflict fails this object alone, not the whole import.
            config_after = _add_properties(plan.config, new_props) if new_props else plan.config
            for name, matrix in matrices.items():
                vec = config_after.vector(name)
                if vec is not None and vec.dimension is None:
                    config_after = _fix_dimension(config_after, name, int(matrix.shape[1]))
        except MultiVectorError as exc:
            plan.uuids.append(uid)
            plan.properties.append({})
            plan.vectors.append({})
            plan.failures[i] = str(exc)
            plan.errors[i] = exc
            continue
        plan.config = config_after
        if existing_vectors is not None:
            carried = [n for n in existing_vectors[i] if n not in matrices]
            for name in carried:
                matrices[name] = existing_vectors[i][name]
            plan.kept[i] = frozenset(carried)
        plan.uuids.append(uid)
        plan.properties.append(props)
        plan.vectors.append(matrices)
        for vec in plan.config.vectors:
            if vec.has_vectorizer and vec.name not in matrices:
                text = source_text(props, vec, plan.config)
                if text:
                    job = jobs.setdefault(vec.name, EmbedJob(vec.name))
                    job.positions.append(i)
                    job.texts.append(text)
    plan.jobs = list(jobs.values())
    return plan


def fail_job(
    plan: ObjectPlan, job: EmbedJob, message: str, error: BaseException | None = None
) -> None:
    """Mark every object of an embedding job as failed (the embedder raised ``error``).

    Each failure keeps the embedder's own error when it is one of ours (``AuthenticationError``,
    ``RateLimitError`` with its ``retry_after``, ``EmbeddingTimeout``, ...), so ``data.insert``
    raises it as it is; any other exception (a user's model) becomes an
    :class:`~multivector.errors.EmbeddingError` whose ``__cause__`` is that exception.
    """
    text = f"embedding vector {job.space!r} failed: {message}"
    if not isinstance(error, MultiVectorError):
        wrapped = EmbeddingError(text)
        wrapped.__cause__ = error
        error = wrapped
    for pos in job.positions:
        if pos not in plan.failures:
            plan.failures[pos] = text
            plan.errors[pos] = error


def finish_objects(
    plan: ObjectPlan,
    embedded: Mapping[str, Sequence[Matrix] | None],
    *,
    start_index: int = 0,
) -> tuple[list[ObjectRecord], list[BatchFailure], CollectionConfig]:
    """Attach embedded matrices, validate them, and split records from failures."""
    for job in plan.jobs:
        matrices = embedded.get(job.space)
        if matrices is None:
            continue
        if len(matrices) != len(job.positions):
            fail_job(
                plan,
                job,
                f"the embedder returned {len(matrices)} matrices for {len(job.positions)} texts",
            )
            continue
        for pos, matrix in zip(job.positions, matrices):
            if pos in plan.failures:
                continue
            vec = plan.config.vector(job.space)
            if vec is None:  # pragma: no cover
                continue
            try:
                checked = check_matrix(matrix, vec, f"object #{start_index + pos}")
            except InvalidObjectError as exc:
                plan.failures[pos] = f"the embedder returned an unusable matrix: {exc}"
                plan.errors[pos] = exc
                continue
            if vec.dimension is None:
                plan.config = _fix_dimension(plan.config, job.space, int(checked.shape[1]))
            plan.vectors[pos][job.space] = checked
    records: list[ObjectRecord] = []
    failures: list[BatchFailure] = []
    for i, uid in enumerate(plan.uuids):
        if i in plan.failures or uid is None:  # uid is None only for failed objects
            failures.append(
                BatchFailure(
                    index=start_index + i,
                    uuid=uid,
                    message=plan.failures.get(i, "invalid object"),
                    original=plan.originals[i],
                    error=plan.errors.get(i),
                )
            )
            continue
        records.append(
            ObjectRecord(uid, plan.properties[i], plan.vectors[i], plan.kept.get(i, frozenset()))
        )
    return records, failures, plan.config
