"""The DASHBOARD surface's paths, and its credential resolved by the one Authenticator."""

from __future__ import annotations

import pytest

from threadline.kit.surface import Surface
from threadline.surfaces import DASHBOARD, PUBLIC, THREADS, surface_table


@pytest.mark.parametrize(
    ("path", "surface"),
    [
        ("/app", DASHBOARD),
        ("/app/", DASHBOARD),
        ("/app/ops/jobs", DASHBOARD),
        ("/apple", PUBLIC),
        ("/oauth/authorize", DASHBOARD),
        ("/oauth/access_token", THREADS),
        ("/v1.0/oauth/authorize", THREADS),  # same cookie, read by the consent route itself
    ],
)
def test_dashboard_paths(path: str, surface: Surface) -> None:
    assert surface_table().lookup(path) is surface


def test_the_session_cookie_is_the_declared_credential() -> None:
    credential = DASHBOARD.credential
    assert credential is not None
    assert (credential.kind, credential.cookie, credential.stage) == ("dashboard", "tl_session", "route")
