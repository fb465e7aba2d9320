"""Tool definitions, one module per platform; registry() gathers them into the one Registry."""

from __future__ import annotations

import functools

from threadline.tools.registry import Registry


@functools.cache
def registry() -> Registry:
    """Built on first use (nothing happens at import time)."""
    from threadline.tools.catalog import general, thrad, threads, tiktok

    return Registry([*general.TOOLS, *thrad.TOOLS, *threads.TOOLS, *tiktok.TOOLS])
