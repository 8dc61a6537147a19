"""One writer process imports while two reader processes query the same folder."""

from __future__ import annotations

import os
import subprocess
import sys

import multivector
from multivector.config import Configure
from multivector.errors import StoreLockedError

READER = r"""
import sys, time
import numpy as np
import multivector
path, total = sys.argv[1], int(sys.argv[2])
client = multivector.connect(path, read_only=True)
col = client.collections.use("Live")
q = np.ones((2, 8), np.float32)
seen = []
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    objs = col.query.fetch_objects(limit=100000, include_vector=True).objects
    hits = col.query.near_vector(q, limit=1000).objects
    words = col.query.bm25("common", limit=1000).objects
    # No torn reads: every object is complete and batches (of 10) are whole.
    for o in objs:
        i = o.properties["i"]
        v = np.asarray(o.vector["v"])
        assert v.shape == (1 + i % 4, 8), (i, v.shape)
        assert np.all(v == np.float32(i % 7)), i
    assert len(objs) % 10 == 0, len(objs)
    # Each call sees one committed state, later calls never an older one.
    assert len(objs) <= len(hits) <= len(words), (len(objs), len(hits), len(words))
    assert len(hits) % 10 == 0 and len(words) % 10 == 0
    seen.append(len(objs))
    if len(objs) == total:
        break
assert seen[-1] == total, seen[-5:]
assert seen == sorted(seen), "a reader went back in time"
print("OK", len(set(seen)), flush=True)
"""

WRITER = r"""
import sys
import numpy as np
import multivector
path, total = sys.argv[1], int(sys.argv[2])
client = multivector.connect(path)
col = client.collections.use("Live")
for start in range(0, total, 10):
    col.data.insert_many([
        multivector.DataObject(
            properties={"i": i, "text": "common words here"},
            vector={"v": np.full((1 + i % 4, 8), i % 7, np.float32)},
        )
        for i in range(start, start + 10)
    ])
client.close()
print("DONE", flush=True)
"""


def test_two_readers_follow_a_writer_without_torn_reads(tmp_path):
    path = tmp_path / "store"
    total = 400
    with multivector.connect(path) as client:
        client.collections.create(
            "Live", vector_config=[Configure.MultiVectors.self_provided(name="v")]
        )
    args = [str(path), str(total)]
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    w_out, w_err = writer.communicate(timeout=240)
    assert writer.returncode == 0, w_err
    assert "DONE" in w_out
    for proc in readers:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert out.startswith("OK")
    with multivector.connect(path) as client:
        assert len(client.collections.use("Live").query.fetch_objects(limit=1000).objects) == total


def test_a_second_writer_process_gets_store_locked_error(tmp_path):
    path = tmp_path / "store"
    with multivector.connect(path) as client:
        client.collections.create("Live")  # this client now holds the write lock
        code = (
            "import sys, multivector\n"
            "c = multivector.connect(sys.argv[1])\n"
            "print(sorted(c.collections.list_all()))\n"
            "try:\n"
            "    c.collections.create('Other')\n"
            "except multivector.errors.StoreLockedError as e:\n"
            "    print('LOCKED', e)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert "['Live']" in out.stdout
        assert "LOCKED" in out.stdout and f"pid {os.getpid()}" in out.stdout
        assert issubclass(StoreLockedError, OSError)
    # After close, the lock is free for the next process.
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert "LOCKED" not in out.stdout, out.stdout + out.stderr
    with multivector.connect(path) as client:
        assert sorted(client.collections.list_all()) == ["Live", "Other"]
