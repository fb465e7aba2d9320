"""People who sign in to the dashboard: operators, org owners and members; invitations.

The CLI (`threadline people ...`), the operator pages and the demo seed call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from threadline.context import AppContext
from threadline.dashboard.passwords import hash_password, password_problem, verify_password
from threadline.kit.errors import ApiError, invalid, not_found
from threadline.kit.ids import new_id
from threadline.kit.secrets import generate_key, hash_key
from threadline.operator import orgs
from threadline.store.models import DashboardSession, Invitation, Person

ROLES = ("owner", "member", "operator")
INVITATION_PREFIX = "tli"


@dataclass(frozen=True)
class PersonOut:
    id: str
    email: str
    role: str
    org_id: str | None
    created_at: int


def _out(p: Person) -> PersonOut:
    return PersonOut(p.id, p.email, p.role, p.org_id, p.created_at)


def normal_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 254 or "@" not in value or value.startswith("@") or value.endswith("@") or " " in value:
        raise invalid("Enter an email address like name@example.com.", "email")
    return value


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem is not None:
        raise invalid(problem, "password")


def _check_role(role: str, org_id: str | None) -> None:
    if role not in ROLES:
        raise invalid(f"role must be one of {', '.join(ROLES)}.", "role")
    if (role == "operator") != (org_id is None):
        raise invalid("Operators belong to no org; owners and members belong to one.", "org")


def _new_person(email: str, password: str, role: str, org_id: str | None, now: int) -> Person:
    return Person(
        id=new_id(),
        email=email,
        password_hash=hash_password(password),
        role=role,
        org_id=org_id,
        created_at=now,
        password_changed_at=now,
    )


def create_person(ctx: AppContext, email: str, password: str, *, role: str, org_id: str | None) -> PersonOut:
    address = normal_email(email)
    _check_role(role, org_id)
    _check_password(password)
    now = ctx.clock.now_s()
    try:
        with ctx.db.write() as s:
            if org_id is not None:
                org_id = orgs.get_org(s, org_id).id
            person = _new_person(address, password, role, org_id, now)
            s.add(person)
            s.flush()
    except IntegrityError:
        raise ApiError(409, "email_taken", "Someone with that email already exists.", "email") from None
    return _out(person)


def create_operator(ctx: AppContext, email: str, password: str) -> PersonOut:
    return create_person(ctx, email, password, role="operator", org_id=None)


def find_by_email(ctx: AppContext, email: str) -> PersonOut | None:
    with ctx.db.read() as s:
        p = s.execute(select(Person).where(Person.email == email.strip().lower()[:254])).scalar()
        return _out(p) if p is not None else None


def get_person(ctx: AppContext, person_id: str) -> PersonOut:
    with ctx.db.read() as s:
        p = s.execute(select(Person).where(Person.id == person_id[:36])).scalar()
        if p is None:
            raise not_found("person")
        return _out(p)


def list_people(ctx: AppContext, org_id: str | None = None) -> list[PersonOut]:
    with ctx.db.read() as s:
        q = select(Person).order_by(Person.seq)
        if org_id is not None:
            q = q.where(Person.org_id == org_id)
        return [_out(p) for p in s.execute(q).scalars()]


def check_signin(ctx: AppContext, email: str, password: str) -> PersonOut | None:
    """The person whose email and password these are, or None (the same None for both mistakes)."""
    with ctx.db.read() as s:
        p = s.execute(select(Person).where(Person.email == email.strip().lower()[:254])).scalar()
    ok = verify_password(p.password_hash if p is not None else None, password[:256])
    return _out(p) if ok and p is not None else None


def set_password(ctx: AppContext, person_id: str, password: str) -> None:
    """A new password ends every session of that person (sign-out everywhere)."""
    _check_password(password)
    with ctx.db.write() as s:
        p = s.execute(select(Person).where(Person.id == person_id)).scalar()
        if p is None:
            raise not_found("person")
        p.password_hash = hash_password(password)
        p.password_changed_at = ctx.clock.now_s()
        s.execute(delete(DashboardSession).where(DashboardSession.person_id == p.id))


def change_password(ctx: AppContext, person_id: str, current: str, new: str) -> None:
    with ctx.db.read() as s:
        p = s.execute(select(Person).where(Person.id == person_id)).scalar()
    if p is None or not verify_password(p.password_hash, current[:256]):
        raise invalid("The current password is not right.", "current_password")
    set_password(ctx, person_id, new)


# --- invitations --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationOut:
    token: str
    email: str
    role: str
    org_id: str | None
    expires_at: int

    def link(self, base_url: str) -> str:
        from threadline.surfaces import DASHBOARD

        return f"{base_url.rstrip('/')}{DASHBOARD.prefixes[0]}/invite/{self.token}"


def invite(ctx: AppContext, email: str, *, org_id: str | None, role: str | None = None) -> InvitationOut:
    """A one-time link to set a password: into ``org_id`` (owner of a new org, else member), or operator."""
    address = normal_email(email)
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        if org_id is not None:
            org_id = orgs.get_org(s, org_id).id
            has_owner = s.execute(
                select(Person.id).where(Person.org_id == org_id, Person.role == "owner")
            ).first()
            role = role or ("member" if has_owner else "owner")
        else:
            role = role or "operator"
        _check_role(role, org_id)
        if s.execute(select(Person.id).where(Person.email == address)).first() is not None:
            raise ApiError(409, "email_taken", "Someone with that email already exists.", "email")
        plain = generate_key(INVITATION_PREFIX)
        expires = now + ctx.settings.dashboard_invitation_seconds
        s.add(
            Invitation(
                token_hash=hash_key(plain),
                email=address,
                role=role,
                org_id=org_id,
                created_at=now,
                expires_at=expires,
            )
        )
    return InvitationOut(plain, address, role, org_id, expires)


def pending_invitation(ctx: AppContext, token: str) -> InvitationOut | None:
    with ctx.db.read() as s:
        row = s.get(Invitation, hash_key(token[:100]))
        if row is None or row.accepted_at is not None or row.expires_at <= ctx.clock.now_s():
            return None
        return InvitationOut("", row.email, row.role, row.org_id, row.expires_at)


def accept_invitation(ctx: AppContext, token: str, password: str) -> PersonOut:
    _check_password(password)
    now = ctx.clock.now_s()
    gone = ApiError(404, "invitation_not_found", "This invitation link was used already or has expired.")
    try:
        with ctx.db.write() as s:
            row = s.get(Invitation, hash_key(token[:100]))
            if row is None or row.accepted_at is not None or row.expires_at <= now:
                raise gone
            row.accepted_at = now
            person = _new_person(row.email, password, row.role, row.org_id, now)
            s.add(person)
            s.flush()
    except IntegrityError:
        raise ApiError(409, "email_taken", "Someone with that email already exists.", "email") from None
    return _out(person)
