"""Python's cyclic garbage collector, set for processes that turn batches of events into rows.

A projector batch makes and drops hundreds of thousands of small objects (decoded events, row
values, statement parameters). With the default thresholds the collector runs every 700
allocations and, every so often, walks the whole heap, including everything imported and built
at start, which never becomes garbage. Freezing what start-up built keeps it out of every
collection, and a higher first threshold collects young objects in larger, rarer rounds.
Reference counting still frees almost everything at once: the collector only finds cycles."""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_for_batches() -> None:
    """Call once, after start-up imported and configured everything."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
