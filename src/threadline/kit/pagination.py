"""Cursor lists in the OpenAI shape, paged by keyset on a table's integer ``seq`` (creation order).

``after``/``before`` carry a public id; the id is turned into its ``seq`` inside the page query itself
(a scalar subquery under the list's own filters), so a page is one query and a cursor from another
scope simply matches nothing. Only when a page comes back empty is a second query run to tell an
unknown cursor (400) from a real end of the list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Depends, Query
from sqlalchemy import Integer, Select, exists, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from threadline.kit.errors import invalid

Order = Literal["asc", "desc"]
MAX_LIMIT = 500
DEFAULT_LIMIT = 20

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    after: str | None = None
    before: str | None = None
    order: Order = "desc"

    def __post_init__(self) -> None:
        if self.after is not None and self.before is not None:
            raise invalid("Pass either after or before, not both.", "before")
        for name in ("after", "before"):
            value = getattr(self, name)
            if value is not None and "\x00" in value:  # unqueryable on PostgreSQL, so unknown
                raise invalid(f"No such object for cursor {name}.", name)
        if not 1 <= self.limit <= MAX_LIMIT:
            raise invalid(f"limit must be between 1 and {MAX_LIMIT}.", "limit")


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT,
    after: Annotated[str | None, Query(max_length=200, description="An id: the page after it.")] = None,
    before: Annotated[str | None, Query(max_length=200, description="An id: the page before it.")] = None,
    order: Annotated[Order, Query(description="By creation time.")] = "desc",
) -> PageParams:
    """The cursor query parameters every list takes (advertiser and operator alike)."""
    return PageParams(limit=limit, after=after, before=before, order=order)


Paging = Annotated[PageParams, Depends(page_params)]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


def keyset_page(
    session: Session,
    stmt: Select[T],
    *,
    seq: InstrumentedAttribute[int],
    id_: InstrumentedAttribute[str] | InstrumentedAttribute[int],
    params: PageParams,
) -> Page[T]:
    """One page of ``stmt`` (already filtered to the list's scope) in ``params.order``.

    ``before`` walks backwards: the rows just before the cursor in list order, still returned in list
    order, and ``has_more`` says whether more rows lie further back.
    """
    raw = params.after if params.after is not None else params.before
    cursor: str | int | None = raw
    if raw is not None and isinstance(id_.type, Integer):
        # Integer ids (jobs): a cursor that is not a number names no row, like an unknown id.
        name = "after" if params.after is not None else "before"
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise invalid(f"No such object for cursor {name}.", name)
        cursor = int(raw)
    descending = params.order == "desc"
    if params.before is not None:
        descending = not descending  # fetch towards the cursor's past, then flip back
    query = stmt
    if cursor is not None:
        cursor_seq = stmt.with_only_columns(seq).where(id_ == cursor).scalar_subquery()
        query = query.where(seq < cursor_seq if descending else seq > cursor_seq)
    query = query.order_by(seq.desc() if descending else seq.asc()).limit(params.limit + 1)
    rows = list(session.execute(query).scalars().all())
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    if params.before is not None:
        rows.reverse()
    if not rows and cursor is not None:
        known = session.execute(select(exists(stmt.with_only_columns(seq).where(id_ == cursor)))).scalar()
        if not known:
            name = "after" if params.after is not None else "before"
            raise invalid(f"No such object for cursor {name}.", name)
    return Page(rows, has_more)


def list_body(data: Sequence[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    """The list object: ``object``, ``data``, ``count`` (rows in this page), ``first_id``, ``last_id``, ``has_more``."""
    return {
        "object": "list",
        "data": list(data),
        "count": len(data),
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def render_page(page: Page[T], render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    return list_body([render(item) for item in page.items], has_more=page.has_more)
