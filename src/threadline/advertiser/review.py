"""Campaign review: the operator's approve/reject and the queue, plus resubmission after changes.

Ads have no review of their own: they read back their campaign's ``review_status``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.kit.clock import Clock
from threadline.kit.errors import ApiError, not_found
from threadline.kit.ids import is_uuid
from threadline.store.models import Campaign

MAX_REASON_LENGTH = 1000


def _campaign(session: Session, campaign_id: str) -> Campaign:
    campaign = None
    if is_uuid(campaign_id):
        campaign = session.execute(
            select(Campaign).where(Campaign.id == campaign_id).with_for_update()
        ).scalar_one_or_none()
    if campaign is None:
        raise not_found("campaign")
    if campaign.status == "archived":
        raise ApiError(400, "campaign_archived", "This campaign is archived; it cannot be reviewed.")
    return campaign


def mark_approved(campaign: Campaign, now: int) -> None:
    campaign.review_status = "approved"
    campaign.rejection_reason = None
    campaign.updated_at = now


def approve(session: Session, clock: Clock, campaign_id: str) -> Campaign:
    """Approve (also a rejected campaign: the operator may change their mind). Any org's campaign."""
    campaign = _campaign(session, campaign_id)
    if campaign.review_status != "approved":
        mark_approved(campaign, clock.now_s())
    session.flush()
    return campaign


def reject(session: Session, clock: Clock, campaign_id: str, reason: str) -> Campaign:
    """Reject with a reason the advertiser reads back as ``rejection_reason``.

    An active campaign keeps ``status: active`` but stops serving, since serving needs approval; the
    advertiser can pause or archive it, and re-activate only after a new approval.
    """
    reason = reason.strip()
    if not 1 <= len(reason) <= MAX_REASON_LENGTH:
        raise ApiError(400, "invalid_value", f"reason must be 1-{MAX_REASON_LENGTH} characters.", "reason")
    campaign = _campaign(session, campaign_id)
    campaign.review_status = "rejected"
    campaign.rejection_reason = reason
    campaign.updated_at = clock.now_s()
    session.flush()
    return campaign


def review_queue(session: Session, limit: int) -> list[Campaign]:
    """Campaigns waiting for review (not archived), oldest submission first."""
    return list(
        session.execute(
            select(Campaign)
            .where(Campaign.review_status == "in_review", Campaign.status != "archived")
            .order_by(Campaign.review_submitted_at, Campaign.seq)
            .limit(limit)
        ).scalars()
    )


def resubmit(campaign: Campaign, now: int, *, auto_approve: bool) -> None:
    """New ad groups, ads or creatives need a fresh review before the campaign serves again.

    ``status`` is left alone: an active campaign stays active but does not serve until approved.
    A campaign already waiting keeps its place in the queue.
    """
    campaign.updated_at = now
    if auto_approve:
        mark_approved(campaign, now)
    elif campaign.review_status != "in_review":
        campaign.review_status = "in_review"
        campaign.rejection_reason = None
        campaign.review_submitted_at = now
