"""Operator services for organisations, their keys, cards and charges (HTTP routes and CLI share them)."""

from __future__ import annotations

from threadline.advertiser import repository as advertiser_repository
from threadline.advertiser.account import ad_account_out
from threadline.billing import charges, payment_methods
from threadline.billing.providers import ProviderError
from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.kit.pagination import PageParams, keyset_page
from threadline.operator import orgs, repository
from threadline.operator.listing import to_page
from threadline.operator.schemas import (
    ChargeOut,
    KeyRotationOut,
    NewOrgOut,
    OrgCreate,
    OrgOut,
    Page,
    PaymentMethodCreate,
    PaymentMethodOut,
)
from threadline.store.models import AdAccount, Charge, Org, PaymentMethod


def _org_out(org: Org, account: AdAccount) -> OrgOut:
    return OrgOut(
        id=org.id, name=org.name, url=org.url, created_at=org.created_at, ad_account=ad_account_out(account)
    )


def create_org(ctx: AppContext, body: OrgCreate) -> NewOrgOut:
    with ctx.db.write() as s:
        new = orgs.create_org(s, ctx.clock, name=body.name, url=body.url or "")
    return _new_org_out(new)


def create_org_with_card(
    ctx: AppContext, body: OrgCreate, card: PaymentMethodCreate
) -> tuple[NewOrgOut, PaymentMethodOut]:
    """The CLI's `orgs create --card`: an unusable card leaves no half-made org behind."""
    provider = ctx.payments
    try:
        details = payment_methods.attach_card(provider, card.token)
    except ProviderError:
        raise provider_unavailable() from None
    with ctx.db.write() as s:
        new = orgs.create_org(s, ctx.clock, name=body.name, url=body.url or "")
        pm = orgs.add_payment_method(s, ctx.clock, provider, new.org.id, details)
    return _new_org_out(new), _payment_method_out(pm)


def _new_org_out(new: orgs.NewOrg) -> NewOrgOut:
    return NewOrgOut(**_org_out(new.org, new.ad_account).model_dump(), api_key=new.api_key)


def list_orgs(ctx: AppContext, params: PageParams) -> Page[OrgOut]:
    with ctx.db.read() as s:
        page = keyset_page(s, repository.live_orgs(), seq=Org.seq, id_=Org.id, params=params)
        accounts = advertiser_repository.default_ad_accounts(s, (o.id for o in page.items))
    return to_page(page, lambda o: _org_out(o, accounts[o.id]))


def get_org(ctx: AppContext, org_id: str) -> OrgOut:
    with ctx.db.read() as s:
        org = orgs.get_org(s, org_id)
        account = advertiser_repository.default_ad_account(s, org.id)
    return _org_out(org, account)


def rotate_api_key(ctx: AppContext, org_id: str) -> KeyRotationOut:
    with ctx.db.write() as s:
        plain, expires_at = orgs.rotate_advertiser_key(
            s, ctx.clock, org_id, ctx.settings.key_rotation_grace_seconds
        )
    # Cached principals still carry the old (absent) expiry; drop them so the grace window holds.
    ctx.keys.clear()
    return KeyRotationOut(api_key=plain, previous_key_expires_at=expires_at)


def revoke_api_key(ctx: AppContext, org_id: str) -> None:
    with ctx.db.write() as s:
        orgs.revoke_advertiser_keys(s, ctx.clock, org_id)
    ctx.keys.clear()


def _payment_method_out(pm: PaymentMethod) -> PaymentMethodOut:
    return PaymentMethodOut(id=pm.id, brand=pm.brand, last4=pm.last4, is_default=pm.is_default)


def provider_unavailable() -> ApiError:
    return ApiError(
        503,
        "payment_provider_unavailable",
        "The payment provider could not be reached. Retry later.",
        type="api_error",
        headers={"Retry-After": "1"},
    )


def add_payment_method(ctx: AppContext, org_id: str, body: PaymentMethodCreate) -> PaymentMethodOut:
    provider = ctx.payments
    with ctx.db.read() as s:
        orgs.get_org(s, org_id)  # an unknown org is a 404 before the provider is asked anything
    try:
        card = payment_methods.attach_card(provider, body.token)
    except ProviderError:
        raise provider_unavailable() from None
    with ctx.db.write() as s:
        pm = orgs.add_payment_method(s, ctx.clock, provider, org_id, card)
    return _payment_method_out(pm)


def delete_payment_method(ctx: AppContext, org_id: str, payment_method_id: str) -> None:
    with ctx.db.write() as s:
        orgs.delete_payment_method(s, ctx.clock, org_id, payment_method_id)


def _charge_out(c: Charge) -> ChargeOut:
    return ChargeOut(
        id=c.id,
        campaign_id=c.campaign_id,
        amount_micros=c.amount_micros,
        kind=c.kind,
        status=c.status,
        created_at=c.created_at,
    )


def list_charges(ctx: AppContext, org_id: str, params: PageParams) -> Page[ChargeOut]:
    with ctx.db.read() as s:
        orgs.get_org(s, org_id)
        page = charges.org_charge_page(s, org_id, params)
    return to_page(page, _charge_out)
