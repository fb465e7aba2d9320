"""The typed list model for /admin/v1 responses (paging and its query parameters are kit.pagination)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from threadline.kit import pagination
from threadline.operator.schemas import Page

T = TypeVar("T")


def to_page(page: pagination.Page[Any], serialize: Callable[[Any], T]) -> Page[T]:
    data = [serialize(r) for r in page.items]
    return Page[T](
        data=data,
        count=len(data),
        first_id=page.items[0].id if page.items else None,
        last_id=page.items[-1].id if page.items else None,
        has_more=page.has_more,
    )
