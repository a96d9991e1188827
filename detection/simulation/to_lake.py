"""Write a simulation into the lake, one daily partition per day, on several processes.

Days are independent (each is drawn from its own seeded generator), so worker ``i`` of ``n``
simply takes days ``i, i+n, i+2n, ...``; the output is identical whatever the number of workers.
Each worker holds one day in memory at a time.
"""

import queue
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Protocol

from detection.mail.lake import write_day
from detection.mail.schema import messages_to_tables
from detection.simulation.generator import SimulationConfig, simulate
from detection.storage import Location


class _Done(Protocol):
    def put(self, item: int, /) -> Any: ...


class _Call:
    """A queue stand-in that calls back at once (one process, no queue needed)."""

    def __init__(self, on_day: Callable[[int], None]) -> None:
        self.on_day = on_day

    def put(self, item: int, /) -> None:
        self.on_day(item)


def _write_days(
    config: SimulationConfig, lake_dir: Location, day_indices: list[int], done: _Done | None = None
) -> Counter[str]:
    counts: Counter[str] = Counter()
    for day, messages in simulate(config, day_indices):
        write_day(lake_dir, day, messages_to_tables(messages))
        counts.update(m.category for m in messages)
        if done is not None:
            done.put(len(messages))
    return counts


def write_simulation(
    config: SimulationConfig,
    lake_dir: Location,
    workers: int = 2,
    day_indices: list[int] | None = None,
    on_day: Callable[[int], None] | None = None,
) -> Counter[str]:
    """Simulate the days of ``config`` (or only ``day_indices``) into ``lake_dir``, one partition
    per day; returns messages per category. ``on_day`` is called in this process with each
    written day's message count (progress)."""
    days = list(range(config.days)) if day_indices is None else day_indices
    shards = [days[i :: max(1, workers)] for i in range(max(1, workers))]
    shards = [s for s in shards if s]
    if len(shards) == 1:
        return _write_days(config, lake_dir, shards[0], _Call(on_day) if on_day else None)
    context = get_context("spawn")
    manager = context.Manager() if on_day else None
    try:
        done = manager.Queue() if manager else None
        with ProcessPoolExecutor(len(shards), mp_context=context) as pool:
            futures = [pool.submit(_write_days, config, lake_dir, s, done) for s in shards]
            if on_day is not None and done is not None:
                remaining = len(days)
                while remaining:
                    try:
                        on_day(done.get(timeout=0.5))
                        remaining -= 1
                    except queue.Empty:
                        if all(f.done() for f in futures):  # a worker failed: its error below
                            break
            total: Counter[str] = Counter()
            for future in futures:
                total.update(future.result())
    finally:
        if manager is not None:
            manager.shutdown()
    return total
