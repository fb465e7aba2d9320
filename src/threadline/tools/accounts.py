"""Connected accounts per platform, their active flags, and picking the one a tool call acts on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from threadline.context import AppContext
from threadline.kit import crypto
from threadline.kit.errors import not_found
from threadline.kit.ids import new_id
from threadline.operator.orgs import get_org
from threadline.publishing import accounts as threads_accounts
from threadline.store.models import ToolAccount
from threadline.tools import repository as repo
from threadline.tools.envelope import ToolError
from threadline.tools.platforms import SELECTORS

TOKEN_PURPOSE = "threadline/tool-accounts/access-token"
HOW_TO_CONNECT = {
    "tiktok_ads": (
        "No tiktok_ads account is connected. An operator connects one with "
        "POST /admin/v1/orgs/{org_id}/connections "
        '{"platform": "tiktok_ads", "advertiser_id": "...", "name": "...", "access_token": "..."} '
        "or `threadline connections add-tiktok`."
    ),
    "threads": (
        "No threads profile is connected. An operator creates one with "
        'POST /admin/v1/orgs/{org_id}/profiles {"username": "..."} (or `threadline profiles create`); it is connected at once.'
    ),
    "thrad": "This organization has no ad account.",
}


@dataclass(frozen=True)
class Account:
    platform: str
    account_id: str
    name: str
    active: bool
    token_encrypted: str | None = None

    def out(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "account_id": self.account_id,
            "name": self.name,
            "active": self.active,
            "selector": SELECTORS[self.platform],
        }


def _of(row: ToolAccount) -> Account:
    return Account(row.platform, row.account_id, row.name, row.active, row.token_encrypted)


def list_accounts(ctx: AppContext, org_id: str, platform: str | None = None) -> list[Account]:
    if platform in (None, "thrad"):
        with ctx.db.read() as s:
            ad_accounts = [(a.id, a.name) for a in repo.ad_accounts(s, org_id)]
        _mirror(ctx, org_id, "thrad", ad_accounts)
    if platform in (None, "threads"):
        profiles = sorted(threads_accounts.list_profiles(ctx, org_id).data, key=lambda p: int(p.id))
        _mirror(ctx, org_id, "threads", [(p.id, f"@{p.username}") for p in profiles])  # oldest first
    with ctx.db.read() as s:
        return [_of(r) for r in repo.accounts(s, org_id, platform)]


def _mirror(ctx: AppContext, org_id: str, platform: str, owned: list[tuple[str, str]]) -> None:
    """The org's own ad accounts and Threads profiles are always connected: add any not seen yet
    (active, like every newly connected account)."""
    with ctx.db.read() as s:
        known = {a.account_id for a in repo.accounts(s, org_id, platform)}
    missing = [(account_id, name) for account_id, name in owned if account_id not in known]
    if not missing:
        return
    try:
        with ctx.db.write() as s:
            for account_id, name in missing:
                s.add(
                    ToolAccount(
                        id=new_id(),
                        org_id=org_id,
                        platform=platform,
                        account_id=account_id,
                        name=name,
                        active=True,
                        created_at=ctx.clock.now_s(),
                    )
                )
    except IntegrityError:
        pass  # a concurrent call mirrored them first


def select_account(ctx: AppContext, org_id: str, platform: str, selected: str | None) -> Account:
    """The account a call acts on: the one named by the selector, else the only active one."""
    selector = SELECTORS[platform]
    accounts = list_accounts(ctx, org_id, platform)
    if selected is not None:
        for account in accounts:
            if account.account_id == selected:
                return account
        raise ToolError(
            400,
            "account_not_found",
            f'No {platform} account with {selector}="{selected}" is connected. '
            f"Call list_connected_accounts to see the connected accounts.",
            selector,
        )
    if not accounts:
        raise ToolError(400, "no_account_connected", HOW_TO_CONNECT[platform], selector)
    active = [a for a in accounts if a.active]
    if len(active) == 1:
        return active[0]
    if not active:
        raise ToolError(
            400,
            "no_active_account",
            f"None of your {len(accounts)} {platform} accounts is active. Pass the {selector} parameter "
            f"or activate one with switch_primary_account.",
            selector,
            structured_content={"accounts": [a.out() for a in accounts]},
        )
    lines = "\n".join(f'  - {a.name} ({selector}="{a.account_id}")' for a in active)
    raise ToolError(
        400,
        "account_selection_required",
        f"You have {len(active)} {platform} accounts connected. Please specify which account to use by "
        f"passing the {selector} parameter:\n{lines}",
        selector,
        structured_content={"accounts": [a.out() for a in active]},
    )


def switch_active(ctx: AppContext, org_id: str, platform: str, account_ids: Sequence[str]) -> list[Account]:
    """Make exactly ``account_ids`` the active accounts of ``platform``."""
    accounts = list_accounts(ctx, org_id, platform)
    known = {a.account_id for a in accounts}
    unknown = [a for a in account_ids if a not in known]
    if unknown:
        raise ToolError(
            400,
            "account_not_found",
            f'No {platform} account with account_id="{unknown[0]}" is connected.',
            "account_ids",
        )
    with ctx.db.write() as s:
        repo.set_active(s, org_id, platform, account_ids)
    return list_accounts(ctx, org_id, platform)


def connect(
    ctx: AppContext, org_id: str, *, platform: str, account_id: str, name: str, access_token: str
) -> Account:
    """Connect (or reconnect, replacing the token) an upstream account; it becomes active."""
    sealed = crypto.encrypt(ctx.secret_key, TOKEN_PURPOSE, access_token)
    with ctx.db.write() as s:
        get_org(s, org_id)
        row = repo.account(s, org_id, platform, account_id)
        if row is None:
            row = ToolAccount(
                id=new_id(),
                org_id=org_id,
                platform=platform,
                account_id=account_id,
                created_at=ctx.clock.now_s(),
            )
            s.add(row)
        row.name = name
        row.active = True
        row.token_encrypted = sealed
    return _of(row)


def disconnect(ctx: AppContext, org_id: str, platform: str, account_id: str) -> None:
    with ctx.db.write() as s:
        get_org(s, org_id)
        row = repo.account(s, org_id, platform, account_id)
        if row is None or platform in ("thrad", "threads"):
            raise not_found("connection")
        s.delete(row)


def access_token(ctx: AppContext, account: Account) -> str:
    token = crypto.decrypt(ctx.secret_key, TOKEN_PURPOSE, account.token_encrypted or "")
    if token is None:
        raise ToolError(
            400,
            "account_token_unreadable",
            f"The stored access token of {account.platform} account {account.account_id} cannot be read "
            "(the server secret changed). Reconnect the account.",
        )
    return token
