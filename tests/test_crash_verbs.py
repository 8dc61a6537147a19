"""Crash safety of every write verb: a child runs a seeded random sequence of writes (insert,
insert_many, batch import, update, replace, delete_by_id, delete_many, a write that adds a
property, compaction, close and reopen) and is SIGKILLed at a random moment, 120 times.

The parent replays the same sequence on a model. After each kill the store reopens with no
repair step and must hold exactly the model after every acknowledged operation, or that plus the
one operation in flight: never a lost acknowledged write, never half of one.
"""

from __future__ import annotations

import os
import random
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import multivector
from tests.sigkill import run_and_kill

TRIALS = int(os.environ.get("MULTIVECTOR_CRASH_TRIALS", "120"))
POOL = 24

CHILD = r"""
import sys
sys.path.insert(0, sys.argv[3])
import multivector
from test_crash_verbs import open_store, operation, run

path, trial = sys.argv[1], int(sys.argv[2])
client, col = open_store(path)
print("READY", flush=True)
for step in range(100_000):
    op = operation(trial, step)
    print(f"B {step}", flush=True)
    client, col, outcome = run(client, col, path, op)
    print(f"A {step} {outcome}", flush=True)
"""

Model = dict[str, tuple[dict[str, Any], tuple[float, ...]]]


def _matrix(uid: str, version: int) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(f"{uid}/{version}".encode()))
    return rng.normal(size=(1 + version % 4, 6)).astype(np.float16).astype(np.float32)


def _uid(k: int) -> str:
    return str(multivector.generate_uuid5(f"obj-{k}"))


def operation(trial: int, step: int) -> dict[str, Any]:
    """The ``step``-th operation of ``trial`` (parent and child agree on it)."""
    r = random.Random(trial * 1_000_003 + step)
    kind = r.choices(
        [
            "insert",
            "insert_many",
            "batch",
            "update",
            "replace",
            "delete",
            "delete_many",
            "new_property",
            "compact",
            "close",
        ],
        weights=[5, 4, 3, 5, 3, 4, 2, 1, 1, 1],
    )[0]
    version = trial * 100_000 + step
    ks = r.sample(range(POOL), r.randint(1, 5))
    return {
        "kind": kind,
        "uids": [_uid(k) for k in ks],
        "version": version,
        "group": r.randint(0, 2),
        "prop": f"extra{r.randint(0, 3)}",
    }


def open_store(path: str) -> tuple[multivector.Client, multivector.Collection]:
    client = multivector.connect(path, lock_timeout=30)
    if not client.collections.exists("Crash"):
        client.collections.create(
            "Crash", vector_config=[multivector.Configure.MultiVectors.self_provided(name="mv")]
        )
    return client, client.collections.use("Crash")


def _props(op: dict[str, Any], uid: str) -> dict[str, Any]:
    return {"text": f"v{op['version']} {uid[:8]}", "group": op["group"], "v": op["version"]}


def run(
    client: multivector.Client, col: multivector.Collection, path: str, op: dict[str, Any]
) -> tuple[multivector.Client, multivector.Collection, str]:
    """Run one operation in the child; returns the (maybe reopened) client and an outcome."""
    kind, uids, v = op["kind"], op["uids"], op["version"]
    try:
        if kind == "insert":
            col.data.insert(_props(op, uids[0]), uuid=uids[0], vector={"mv": _matrix(uids[0], v)})
        elif kind == "insert_many":
            col.data.insert_many(
                [multivector.DataObject(_props(op, u), u, {"mv": _matrix(u, v)}) for u in uids]
            )
        elif kind == "batch":
            with col.batch.fixed_size(batch_size=len(uids)) as batch:
                for u in uids:
                    batch.add_object(_props(op, u), uuid=u, vector={"mv": _matrix(u, v)})
        elif kind == "update":
            col.data.update(uids[0], {"text": f"upd{v}", "v": v})
        elif kind == "replace":
            col.data.replace(uids[0], _props(op, uids[0]), vector={"mv": _matrix(uids[0], v)})
        elif kind == "delete":
            col.data.delete_by_id(uids[0])
        elif kind == "delete_many":
            col.data.delete_many(multivector.Filter.by_property("group").equal(op["group"]))
        elif kind == "new_property":
            props = {**_props(op, uids[0]), op["prop"]: f"x{v}"}
            col.data.insert_many(
                [multivector.DataObject(props, uids[0], {"mv": _matrix(uids[0], v)})]
            )
        elif kind == "compact":
            col.compact()
        elif kind == "close":
            client.close()
            client, col = open_store(path)
    except multivector.MultiVectorError as exc:
        return client, col, type(exc).__name__
    return client, col, "ok"


def apply(model: Model, op: dict[str, Any]) -> None:
    """The operation's effect on the model (the store's documented semantics)."""
    kind, uids, v = op["kind"], op["uids"], op["version"]

    def put(uid: str, props: dict[str, Any], version: int) -> None:
        model[uid] = (props, tuple(_matrix(uid, version).ravel().tolist()))

    if kind == "insert" and uids[0] not in model:
        put(uids[0], _props(op, uids[0]), v)
    elif kind in ("insert_many", "batch"):
        for u in uids:
            put(u, _props(op, u), v)
    elif kind == "update" and uids[0] in model:
        props, vec = model[uids[0]]
        model[uids[0]] = ({**props, "text": f"upd{v}", "v": v}, vec)
    elif kind == "replace" and uids[0] in model:
        put(uids[0], _props(op, uids[0]), v)
    elif kind == "delete":
        model.pop(uids[0], None)
    elif kind == "delete_many":
        for u in [u for u, (p, _) in model.items() if p.get("group") == op["group"]]:
            del model[u]
    elif kind == "new_property":
        put(uids[0], {**_props(op, uids[0]), op["prop"]: f"x{v}"}, v)


def _stored(path: Path) -> Model:
    with multivector.connect(path) as client:  # no repair step: just open
        if not client.collections.exists("Crash"):
            return {}
        col = client.collections.use("Crash")
        out: Model = {}
        for o in col.query.fetch_objects(include_vector=True).objects:
            props = {k: val for k, val in o.properties.items() if val is not None}
            out[o.uuid] = (props, tuple(np.asarray(o.vector["mv"]).ravel().tolist()))
        return out


def _run_child(path: Path, trial: int, delay: float) -> tuple[int, int | None, str]:
    lines, stderr = run_and_kill(CHILD, [str(path), str(trial)], delay)
    acked, begun = 0, None
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "B":
            begun = int(rest)
        elif kind == "A":
            acked = int(rest.split()[0]) + 1
            begun = None
    return acked, begun, stderr


@pytest.mark.slow
def test_sigkill_at_any_write_verb_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "store"
    rng = np.random.default_rng(7)
    model: Model = {}
    kinds_in_flight: set[str] = set()
    for trial in range(TRIALS):
        acked, in_flight, stderr = _run_child(path, trial, float(rng.uniform(0.02, 0.5)))
        for step in range(acked):
            apply(model, operation(trial, step))
        stored = _stored(path)
        if in_flight is not None:
            kinds_in_flight.add(operation(trial, in_flight)["kind"])
        if in_flight is None or stored == model:
            assert stored == model, (
                f"trial {trial}: store differs from the acknowledged writes\n{stderr}"
            )
        else:
            after = {u: (dict(p), vec) for u, (p, vec) in model.items()}
            op = operation(trial, in_flight)
            apply(after, op)
            assert stored == after, (
                f"trial {trial}: {op['kind']} in flight left the store neither before nor after it"
                f"\n{stderr}"
            )
        model = stored
    # The kills landed inside many different verbs (the mix is exercised, not just one verb).
    assert len(kinds_in_flight) >= min(6, TRIALS // 4), kinds_in_flight
