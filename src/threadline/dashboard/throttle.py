"""Sign-in throttling: attempts counted per email and per client address (kit/ratelimit, GCRA)."""

from __future__ import annotations

from threadline.context import AppContext
from threadline.kit.errors import ApiError


def too_many() -> ApiError:
    return ApiError(429, "too_many_signins", "Too many sign-in attempts. Wait a few minutes and try again.")


def count_attempt(ctx: AppContext, email: str, address: str) -> None:
    """One sign-in attempt; raises the 429 once either budget is spent (checked before the password)."""
    limiter = ctx.limiter
    s = ctx.settings
    per_email = limiter.per_hour(s.dashboard_signin_per_hour_per_email)
    per_ip = limiter.per_hour(s.dashboard_signin_per_hour_per_ip)
    if not limiter.allow(per_ip, "dash-signin-ip", address):
        raise too_many()
    if not limiter.allow(per_email, "dash-signin-email", email.strip().lower()[:254]):
        raise too_many()
