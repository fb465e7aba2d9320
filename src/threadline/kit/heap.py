"""Process-wide garbage-collector policy for a long-running server."""

from __future__ import annotations

import gc

GC_GEN0_THRESHOLD = 10_000

_heap_settled = False


def settle_heap() -> None:
    """Once per process, after startup: move the startup heap out of the collector's reach.

    Event requests stay in flight until their batch commits, so their objects outlive young
    collections and get promoted; the old generation then fills up and CPython runs full collections,
    each walking every object of the app (~185k: routes, schemas, metadata) for ~80 ms with the GIL
    held. Measured: full collections cost ~50 us per collect request and caused the p99 spikes.
    Frozen objects are never scanned (nor freed: hence the collect first, and once only, so repeated
    apps in one test process do not pin each other's garbage).
    """
    global _heap_settled
    if _heap_settled:
        return
    _heap_settled = True
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
