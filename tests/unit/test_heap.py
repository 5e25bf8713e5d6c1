"""The collector settings a worker takes once started (p3ke_platform.heap), in a process of their own."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import gc, json, weakref
from p3ke_platform import heap

class Node:
    pass

before = gc.get_freeze_count()
heap.settle()
frozen = gc.get_freeze_count()
a, b = Node(), Node()
a.other, b.other = b, a  # a cycle made after start-up: still garbage the collector finds
alive = weakref.ref(a)
del a, b
keep = [[] for _ in range(3 * heap.YOUNG)]  # enough new objects for the collector to run on its own
print(json.dumps({"before": before, "frozen": frozen, "threshold": gc.get_threshold(),
                  "cycle_collected": alive() is None}))
"""


def test_settle_freezes_the_start_up_heap_and_later_cycles_are_still_collected() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], check=True, capture_output=True, text=True)
    seen = json.loads(out.stdout)
    assert seen["before"] == 0
    assert seen["frozen"] > 1_000  # what the interpreter and the imports made
    assert seen["threshold"] == [20_000, 20, 20]
    assert seen["cycle_collected"] is True
