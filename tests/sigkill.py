"""Run a child Python program and SIGKILL it a while after it says READY (crash tests).

Shared by tests/test_crash.py and tests/test_crash_verbs.py; helper (tenant removal) tests may
use it too. The child prints one line per event; the parent gets every line printed before the
kill, and the child's stderr for failure messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time


def run_and_kill(code: str, args: list[str], delay: float) -> tuple[list[str], str]:
    """Start ``python -c code *args`` (tests/ on its path), kill it ``delay`` s after READY."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args, os.path.dirname(__file__)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("READY"):
                ready.set()

    reader = threading.Thread(target=pump)
    reader.start()
    ready.wait(120)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert "READY" in lines, stderr
    return lines, stderr
