"""The cursor query parameters every advertiser list takes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from threadline.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, Order, PageParams


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT,
    after: Annotated[str | None, Query(max_length=200, description="An id: the page after it.")] = None,
    before: Annotated[str | None, Query(max_length=200, description="An id: the page before it.")] = None,
    order: Annotated[Order, Query(description="By creation time.")] = "desc",
) -> PageParams:
    return PageParams(limit=limit, after=after, before=before, order=order)


Paging = Annotated[PageParams, Depends(page_params)]
