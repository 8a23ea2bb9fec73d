"""py-unbounded-writer-buffer-fixed: the same event writer behind a bounded ring buffer.

The fix of py-unbounded-writer-buffer: the writer's buffer is
``leakhunter.guard.RingBuffer(200, DropOldest)``. When the sink falls behind,
the oldest events are dropped (and counted: ``leakhunter_buffer_dropped_total``,
the verdict's ``buffer event-writer`` row) instead of piling up; memory stops
at ~400 KB of events, reached in ~2 s. The code is eventwriter's own, so its
names are the leak's.
"""

from __future__ import annotations

from leakhunter_zoo_py import eventwriter
from leakhunter_zoo_py._common import run

if __name__ == "__main__":
    eventwriter.BOUND = 200
    run(150.0, eventwriter.scenario)
