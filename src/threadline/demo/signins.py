"""The dashboard part of the demo (kept in demo/: dashboard/ knows nothing of the demo): a sign-in for the demo org's owner and one for an operator.

Passwords are stored hashed, so the plain ones are kept in ``<data dir>/demo-keys.json`` as
``dashboard_email`` / ``dashboard_password`` and ``operator_email`` / ``operator_password``. A password
that no longer signs in (file lost or edited) is replaced by a fresh one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from threadline.context import AppContext
from threadline.dashboard import people
from threadline.demo.keys_file import KEYS_FILE, merge_keys, read_extra

OWNER_EMAIL = "owner@acme.example"
OPERATOR_EMAIL = "operator@threadline.example"


@dataclass(frozen=True)
class DemoSignIns:
    dashboard_email: str
    dashboard_password: str
    operator_email: str
    operator_password: str


def _ensure(ctx: AppContext, email: str, password: str | None, role: str, org_id: str | None) -> str:
    if password and people.check_signin(ctx, email, password) is not None:
        return password
    fresh = secrets.token_urlsafe(12)
    found = people.find_by_email(ctx, email)
    if found is None:
        people.create_person(ctx, email, fresh, role=role, org_id=org_id)
    else:
        people.set_password(ctx, found.id, fresh)
    return fresh


def seed_people(ctx: AppContext, org_id: str) -> DemoSignIns:
    path = Path(ctx.settings.data_dir) / KEYS_FILE
    kept = read_extra(path)
    owner = _ensure(ctx, OWNER_EMAIL, kept.get("dashboard_password"), "owner", org_id)
    operator = _ensure(ctx, OPERATOR_EMAIL, kept.get("operator_password"), "operator", None)
    signins = DemoSignIns(OWNER_EMAIL, owner, OPERATOR_EMAIL, operator)
    merge_keys(
        path,
        {
            "dashboard_email": signins.dashboard_email,
            "dashboard_password": signins.dashboard_password,
            "operator_email": signins.operator_email,
            "operator_password": signins.operator_password,
        },
    )
    return signins
