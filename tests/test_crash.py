"""Crash safety: a child imports (and deletes) in batches and is SIGKILLed at random moments.

After every kill the store reopens without a repair step; every acknowledged insert is present
with equal properties and matrices, acknowledged deletes are gone, nothing is half present, and
searches equal those of a store built fresh from the surviving objects.
"""

from __future__ import annotations

import numpy as np
import pytest

import multivector
from multivector.api.ingest import DataObject
from multivector.config import Configure
from tests.sigkill import run_and_kill

TRIALS = 20
BATCH = 8

CHILD = r"""
import sys
import multivector
from multivector.config import Configure
sys.path.insert(0, sys.argv[3])
from test_crash import make_object

path, trial = sys.argv[1], int(sys.argv[2])
client = multivector.connect(path, lock_timeout=30)
if not client.collections.exists("Crash"):
    client.collections.create("Crash", vector_config=[Configure.MultiVectors.self_provided(name="mv")])
col = client.collections.use("Crash")
print("READY", flush=True)
for batch in range(10_000):
    objs = [make_object(trial, batch * 8 + i) for i in range(8)]
    col.data.insert_many(objs)
    print("I " + " ".join(str(o.uuid) for o in objs), flush=True)
    if batch % 3 == 2:
        victim = str(make_object(trial, (batch - 1) * 8).uuid)
        print("P " + victim, flush=True)
        col.data.delete_by_id(victim)
        print("D " + victim, flush=True)
"""


def make_object(trial: int, i: int) -> DataObject:
    """The deterministic object number ``i`` of ``trial`` (parent and child agree on it)."""
    rng = np.random.default_rng(trial * 1_000_003 + i)
    n = int(rng.integers(1, 9))
    return DataObject(
        properties={"text": f"trial{trial} item{i} " + "word " * int(rng.integers(1, 5)), "i": i},
        uuid=multivector.generate_uuid5(f"{trial}/{i}"),
        vector=rng.normal(size=(n, 12)).astype(np.float32),
    )


def _expected_upto(trial: int, n: int) -> dict[str, DataObject]:
    return {str(o.uuid): o for i in range(n) for o in [make_object(trial, i)]}


def _run_child(path, trial: int, delay: float) -> tuple[set[str], set[str], set[str]]:
    lines, _ = run_and_kill(CHILD, [str(path), str(trial)], delay)
    inserted: set[str] = set()
    pending: set[str] = set()
    deleted: set[str] = set()
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "I":
            inserted.update(rest.split())
        elif kind == "P":
            pending.add(rest)
        elif kind == "D":
            deleted.add(rest)
    return inserted, pending - deleted, deleted


def _searches(col: multivector.Collection) -> list[object]:
    q = np.random.default_rng(99).normal(size=(3, 12)).astype(np.float32)
    meta = multivector.MetadataQuery(score=True, distance=True)
    out = []
    for res in (
        col.query.near_vector(q, limit=25, return_metadata=meta),
        col.query.bm25("word item3 trial1", limit=25, return_metadata=meta),
    ):
        out.append([(o.uuid, o.metadata.score, o.metadata.distance) for o in res.objects])
    return out


@pytest.mark.slow
def test_sigkill_during_import_loses_nothing_acknowledged(tmp_path):
    path = tmp_path / "store"
    expected: dict[str, DataObject] = {}
    rng = np.random.default_rng(2024)
    acked: set[str] = set()
    gone: set[str] = set()
    maybe_gone: set[str] = set()
    for trial in range(TRIALS):
        ins, pending, deleted = _run_child(path, trial, float(rng.uniform(0.0, 0.3)))
        acked |= ins
        gone |= deleted
        maybe_gone |= pending
        # Whatever the child could have written: its acknowledged batches plus the one in flight.
        expected.update(_expected_upto(trial, len(ins) + 2 * BATCH))
        with multivector.connect(path) as client:  # no repair step: just open
            col = client.collections.use("Crash")
            stored = col.query.fetch_objects(limit=100_000, include_vector=True).objects
            present = {o.uuid: o for o in stored}
            assert len(present) == len(stored)
            for uuid in acked - gone - maybe_gone:
                assert uuid in present, f"trial {trial}: acknowledged {uuid} lost"
            assert not (gone & present.keys()), f"trial {trial}: acknowledged delete undone"
            for uuid, obj in present.items():
                want = expected[uuid]  # KeyError: an object nobody wrote
                assert obj.properties == want.properties
                got = np.asarray(obj.vector["mv"])
                np.testing.assert_array_equal(
                    got, want.vector.astype(np.float16).astype(np.float32)
                )
            # Batches are atomic: a batch with any object present has all of them (but deletes).
            batches = {
                (o.properties["text"].split()[0], o.properties["i"] // BATCH) for o in stored
            }
            for label, b in batches:
                t = int(label[len("trial") :])
                full = {str(make_object(t, b * BATCH + k).uuid) for k in range(BATCH)}
                assert full - gone - maybe_gone <= present.keys(), f"batch {label}/{b} torn"
            fresh_client = multivector.connect()
            fresh = fresh_client.collections.create(
                "Crash", vector_config=[Configure.MultiVectors.self_provided(name="mv")]
            )
            fresh.data.insert_many([expected[o.uuid] for o in stored])
            assert _searches(col) == _searches(fresh)
            fresh_client.close()
    assert len(acked) > 0
