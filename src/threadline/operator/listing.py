"""List query parameters and the typed list model for /admin/v1 (paging itself is kit.pagination)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Query

from threadline.kit import pagination
from threadline.kit.pagination import Order, PageParams
from threadline.operator.schemas import Page

T = TypeVar("T")


def page_params(
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT,
    after: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[str | None, Query(max_length=64)] = None,
    order: Annotated[Order, Query()] = "desc",
) -> PageParams:
    return PageParams(limit=limit, after=after, before=before, order=order)


def to_page(page: pagination.Page[Any], serialize: Callable[[Any], T]) -> Page[T]:
    data = [serialize(r) for r in page.items]
    return Page[T](
        data=data,
        count=len(data),
        first_id=page.items[0].id if page.items else None,
        last_id=page.items[-1].id if page.items else None,
        has_more=page.has_more,
    )
