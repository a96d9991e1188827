"""Write a simulation into the lake, one daily partition per day, on several processes.

Days are independent (each is drawn from its own seeded generator), so worker ``i`` of ``n``
simply takes days ``i, i+n, i+2n, ...``; the output is identical whatever the number of workers.
Each worker holds one day in memory at a time.
"""

from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from detection.mail.lake import write_day
from detection.mail.schema import messages_to_tables
from detection.simulation.generator import SimulationConfig, simulate


def _write_days(config: SimulationConfig, lake_dir: Path, day_indices: list[int]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for day, messages in simulate(config, day_indices):
        write_day(lake_dir, day, messages_to_tables(messages))
        counts.update(m.category for m in messages)
    return counts


def write_simulation(
    config: SimulationConfig,
    lake_dir: Path,
    workers: int = 2,
    day_indices: list[int] | None = None,
) -> Counter[str]:
    """Simulate the days of ``config`` (or only ``day_indices``) into ``lake_dir``, one partition
    per day; returns messages per category."""
    days = list(range(config.days)) if day_indices is None else day_indices
    shards = [days[i :: max(1, workers)] for i in range(max(1, workers))]
    shards = [s for s in shards if s]
    if len(shards) == 1:
        return _write_days(config, lake_dir, shards[0])
    total: Counter[str] = Counter()
    with ProcessPoolExecutor(len(shards), mp_context=get_context("spawn")) as pool:
        for counts in pool.map(
            _write_days, [config] * len(shards), [lake_dir] * len(shards), shards
        ):
            total.update(counts)
    return total
