"""No dashboard page answers a 5xx for any input: hypothesis fills every form (and the consent screen's
query) with arbitrary text through the HTTP layer, signed in with a valid session and CSRF token."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dashboard.support import make_person, sign_in
from tests.factories import ctx_of, make_org
from threadline.dashboard.pages.new_campaign import FORM_FIELDS
from threadline.publishing import accounts
from threadline.publishing.schemas import ProfileCreate

FORMS: dict[str, tuple[str, ...]] = {
    "/app/campaigns/new": (*FORM_FIELDS, "image_url", "confirm"),
    "/app/publishing": (
        "profile_id",
        "text",
        "image_url",
        "video_url",
        "carousel_urls",
        "topic_tag",
        "link_attachment",
        "poll_a",
        "poll_b",
        "publish_at",
    ),
    "/app/settings/event-keys": ("label",),
    "/app/settings/tool-keys": ("label",),
    "/app/settings/cards": ("token",),
    "/app/creatives": ("image_url",),
    "/app/account/password": ("current_password", "new_password"),
    "/app/campaigns/x/pause": (),
    "/oauth/authorize": (
        "client_id",
        "redirect_uri",
        "scope",
        "response_type",
        "state",
        "decision",
        "profile_id",
    ),
}
GETS = (
    "/app/campaigns/{v}",
    "/app/campaigns?after={v}",
    "/app/campaigns/{v}?metric={v}&granularity={v}",
    "/app/publishing?profile={v}",
    "/oauth/authorize?client_id={v}&redirect_uri={v}&scope={v}",
    "/app/invite/{v}",
    "/app/static/{v}",
)

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
values = st.one_of(
    text,
    st.sampled_from(
        [
            "0",
            "-1",
            "1e309",
            "NaN",
            "99999999999999999999",
            "tok_visa",
            "2026-13-45T99:99",
            "https://example.com",
            "US, xx",
            "yes",
            "allow",
        ]
    ),
)


def _client(app: FastAPI) -> tuple[TestClient, str]:
    org = make_org(app)
    accounts.create_profile(ctx_of(app), org.id, ProfileCreate(username="fuzz_profile"))
    make_person(app, "fuzz@example.com", org.id)
    client = TestClient(app, raise_server_exceptions=False)
    return client, sign_in(client, "fuzz@example.com")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(sorted(FORMS)), data=st.data())
def test_forms_never_answer_5xx(app: FastAPI, path: str, data: Any) -> None:
    if not hasattr(app.state, "fuzz_client"):
        app.state.fuzz_client = _client(app)
    client, csrf = app.state.fuzz_client
    form = {name: data.draw(values, label=name) for name in FORMS[path] if data.draw(st.booleans())}
    r = client.post(path, data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code < 500, (path, form, r.text[-500:])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(GETS), value=text)
def test_pages_never_answer_5xx(app: FastAPI, template: str, value: str) -> None:
    if not hasattr(app.state, "fuzz_client"):
        app.state.fuzz_client = _client(app)
    client, _ = app.state.fuzz_client
    from urllib.parse import quote

    r = client.get(template.format(v=quote(value, safe="")), follow_redirects=False)
    assert r.status_code < 500, (template, value, r.text[-500:])
