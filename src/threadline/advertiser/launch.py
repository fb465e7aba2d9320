"""POST /v1/campaigns: validate the whole tree, charge the deposit, then write the tree.

Order of effects (each step durable before the next):
1. validate everything, including file ownership; no default card → 400 billing_not_configured;
2. commit a ``pending`` charge row (pre-generated campaign id, provider key ``deposit-<campaign id>``,
   the request's Idempotency-Key and body) — the recovery point;
3. call the provider (outside any transaction);
4. declined → mark the row declined, 402, no campaign rows; succeeded → in ONE transaction insert
   the tree and mark the row succeeded.

A crash after 3 leaves a pending row. A retry with the same Idempotency-Key (the gate lets it through
after a 5xx, or once the dead request's lease expires) finds the row and resumes it: same campaign id,
same provider key, so the provider replays the charge instead of taking the money twice. Rows nobody
comes back for are settled by ``advertiser.deposits.reconcile_pending_charges``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from threadline.advertiser import repository as repo
from threadline.advertiser.schemas import CampaignCreate
from threadline.advertiser.serializers import campaign_out
from threadline.advertiser.service import use_status_action
from threadline.advertiser.tree import (
    CampaignPlan,
    FileChecker,
    insert_campaign,
    plan_ad_group,
    plan_countries,
    plan_times,
)
from threadline.billing import charges, payment_methods
from threadline.billing.providers import PaymentProvider, ProviderError
from threadline.context import AppContext
from threadline.kit.errors import ApiError, invalid
from threadline.kit.ids import new_id
from threadline.store.models import Campaign, Charge, PaymentMethod

# A reconciler can settle a pending row while a retry is resuming it; the retry then starts over.
_MAX_ATTEMPTS = 3


class _AlreadySettled(Exception):
    """The pending charge was settled by someone else between our provider call and our commit."""


def card_declined() -> ApiError:
    return ApiError(402, "card_declined", "Your card was declined.")


def billing_not_configured() -> ApiError:
    return ApiError(
        400,
        "billing_not_configured",
        "This organization has no default payment method. Add a card before creating a campaign.",
    )


def provider_unavailable() -> ApiError:
    return ApiError(
        503,
        "payment_provider_unavailable",
        "The payment provider could not be reached. Retry with the same Idempotency-Key; "
        "the deposit is never charged twice.",
        type="api_error",
        headers={"Retry-After": "1"},
    )


def key_reused() -> ApiError:
    return ApiError(
        409,
        "idempotency_key_reused",
        "This Idempotency-Key was already used with a different request.",
        "Idempotency-Key",
    )


def plan_campaign(session: Session, ctx: AppContext, org_id: str, body: CampaignCreate) -> CampaignPlan:
    """Every rule of the nested create, with no side effect."""
    if "status" in body.model_fields_set:
        raise use_status_action()
    if body.ad_account_id is not None:
        account = repo.get_ad_account(session, org_id, body.ad_account_id)
        if account is None:
            raise invalid("No such ad account.", "ad_account_id")
        ad_account_id = account.id
    else:
        ad_account_id = repo.default_ad_account(session, org_id).id
    start, end = plan_times(
        ctx.clock.now_s(), ctx.settings.launch_window_seconds, body.start_time, body.end_time
    )
    countries = plan_countries(body.targeting)
    files = FileChecker(session, org_id)
    groups = [
        plan_ad_group(group, group.ads, files, f"ad_groups[{i}]") for i, group in enumerate(body.ad_groups)
    ]
    return CampaignPlan(
        ad_account_id=ad_account_id,
        name=body.name,
        description=body.description,
        start_time=start,
        end_time=end,
        lifetime_spend_limit_micros=body.budget.lifetime_spend_limit_micros,
        recurring_frequency=body.recurring_frequency,
        pricing_model=body.pricing_model,
        countries=countries,
        ad_groups=groups,
    )


def write_campaign_tree(
    ctx: AppContext, session: Session, org_id: str, campaign_id: str, plan: CampaignPlan
) -> Campaign:
    """Insert the campaign, its ad groups and ads (the caller's transaction also settles the charge)."""
    return insert_campaign(session, ctx.clock, ctx.settings, org_id, campaign_id, plan)


def create_campaign(
    ctx: AppContext, org_id: str, body: CampaignCreate, idempotency_key: str | None
) -> dict[str, Any]:
    request_body = body.model_dump(mode="json", exclude_unset=True)
    for _ in range(_MAX_ATTEMPTS):
        try:
            return _attempt(ctx, org_id, body, idempotency_key, request_body)
        except _AlreadySettled:
            continue
    raise ApiError(
        409,
        "idempotency_request_in_progress",
        "This request's deposit is being settled concurrently. Retry later.",
        "Idempotency-Key",
        headers={"Retry-After": "1"},
    )


def _attempt(
    ctx: AppContext,
    org_id: str,
    body: CampaignCreate,
    idempotency_key: str | None,
    request_body: dict[str, Any],
) -> dict[str, Any]:
    with ctx.db.read() as s:
        previous = charges.latest_request_charge(s, org_id, idempotency_key) if idempotency_key else None
        if previous is not None and charges.is_abandoned(previous):
            previous = None
        if previous is not None:
            # The gate already matched the key to this body; after a released (5xx) claim only the
            # charge row remembers what the key was used for.
            if previous.request_body != request_body:
                raise key_reused()
            if previous.status == "declined":
                raise card_declined()
            if previous.status == "succeeded":
                done = repo.find_campaign(s, org_id, previous.campaign_id)
                if done is not None:
                    return campaign_out(done)
                previous = None  # only possible if the campaign row was removed by hand
        plan = plan_campaign(s, ctx, org_id, body)
        pm = _payment_method(s, org_id, previous)
        if pm is None:
            raise billing_not_configured()
    if previous is None:
        with ctx.db.write() as s:
            charge = charges.begin_deposit(
                s,
                ctx.clock,
                org_id=org_id,
                campaign_id=new_id(),
                payment_method=pm,
                amount_micros=ctx.settings.deposit_micros,
                provider=_provider(ctx).name,
                idempotency_key=idempotency_key,
                request_body=request_body,
            )
    else:
        charge = previous

    try:
        result = charges.call_provider(_provider(ctx), charge, charges.card_of(pm))
    except ProviderError:
        raise provider_unavailable() from None

    if result.status == "declined":
        with ctx.db.write() as s:
            charges.settle(
                s,
                ctx.clock,
                charge.id,
                status="declined",
                provider_ref=result.provider_ref,
                failure_code=result.decline_code,
            )
        raise card_declined()

    with ctx.db.write() as s:
        if not charges.settle(s, ctx.clock, charge.id, status="succeeded", provider_ref=result.provider_ref):
            raise _AlreadySettled
        campaign = write_campaign_tree(ctx, s, org_id, charge.campaign_id, plan)
        return campaign_out(campaign)


def _payment_method(session: Session, org_id: str, previous: Charge | None) -> PaymentMethod | None:
    """A resumed attempt re-charges the card it started with (the provider replays by key)."""
    if previous is not None and previous.payment_method_id is not None:
        pm = payment_methods.find(session, org_id, previous.payment_method_id)
        if pm is not None:
            return pm
    return payment_methods.default_of(session, org_id)


def _provider(ctx: AppContext) -> PaymentProvider:
    provider: PaymentProvider = ctx.payments
    return provider
