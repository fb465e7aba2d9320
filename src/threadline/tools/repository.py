"""Queries of the tools slice."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from threadline.advertiser.repository import org_ad_accounts
from threadline.store.models import AdAccount, ToolAccount, ToolCall


def accounts(session: Session, org_id: str, platform: str | None = None) -> list[ToolAccount]:
    stmt = select(ToolAccount).where(ToolAccount.org_id == org_id)
    if platform is not None:
        stmt = stmt.where(ToolAccount.platform == platform)
    return list(session.execute(stmt.order_by(ToolAccount.seq)).scalars())


def account(session: Session, org_id: str, platform: str, account_id: str) -> ToolAccount | None:
    return session.execute(
        select(ToolAccount).where(
            ToolAccount.org_id == org_id,
            ToolAccount.platform == platform,
            ToolAccount.account_id == account_id,
        )
    ).scalar_one_or_none()


def ad_accounts(session: Session, org_id: str) -> list[AdAccount]:
    return org_ad_accounts(session, org_id)


def set_active(session: Session, org_id: str, platform: str, account_ids: Sequence[str]) -> None:
    base = update(ToolAccount).where(ToolAccount.org_id == org_id, ToolAccount.platform == platform)
    session.execute(base.values(active=ToolAccount.account_id.in_(list(account_ids))))


def org_calls(org_id: str) -> Select[ToolCall]:
    return select(ToolCall).where(ToolCall.org_id == org_id)


def finish_call(
    session: Session, call_id: str, *, status: int, outcome: str, error: str | None, quota_used: bool, at: int
) -> None:
    session.execute(
        update(ToolCall)
        .where(ToolCall.id == call_id)
        .values(status=status, outcome=outcome, error=error, quota_used=quota_used, finished_at=at)
    )
