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
from threadline.operator import publishers
from threadline.operator.schemas import PublisherCreate
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
# The operator's forms: {org} and {pub} are an org and a publisher that exist.
OPERATOR_FORMS: dict[str, tuple[str, ...]] = {
    "/app/ops/orgs": ("name", "url"),
    "/app/ops/orgs/{org}/tier": ("tier",),
    "/app/ops/orgs/{org}/cards": ("token",),
    "/app/ops/orgs/{org}/event-keys": ("label",),
    "/app/ops/orgs/{org}/tool-keys": ("label",),
    "/app/ops/orgs/{org}/api-key/rotate": (),
    "/app/ops/orgs/{org}/x/y/revoke": (),
    "/app/ops/publishers": ("name", "supply", "floor_cpm_micros", "allowed_origins"),
    "/app/ops/publishers/{pub}/settings": ("floor_cpm_micros", "allowed_origins"),
    "/app/ops/publishers/{pub}/keys": ("label",),
    "/app/ops/publishers/{pub}/keys/rotate": (),
    "/app/ops/publishers/{pub}/keys/x/revoke": (),
    "/app/ops/review/x/reject": ("reason",),
    "/app/ops/people/invite": ("email", "org_id"),
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
OPERATOR_GETS = (
    "/app/ops/orgs/{v}",
    "/app/ops/publishers/{v}",
    "/app/ops/jobs?state={v}",
    "/app/ops/tool-calls?org={v}",
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
            "plus",
            "https://chat.example",
            "https://a.example\nftp://b",
            "100000001",
        ]
    ),
)


def _client(app: FastAPI) -> tuple[TestClient, str]:
    org = make_org(app)
    accounts.create_profile(ctx_of(app), org.id, ProfileCreate(username="fuzz_profile"))
    make_person(app, "fuzz@example.com", org.id)
    client = TestClient(app, raise_server_exceptions=False)
    return client, sign_in(client, "fuzz@example.com")


def _operator_client(app: FastAPI) -> tuple[TestClient, str, dict[str, str]]:
    org = make_org(app)
    pub = publishers.create_publisher(ctx_of(app), PublisherCreate(name="Fuzz app"))
    make_person(app, "fuzz-op@example.com", None)
    client = TestClient(app, raise_server_exceptions=False)
    return client, sign_in(client, "fuzz-op@example.com"), {"org": org.id, "pub": pub.id}


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


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(sorted(OPERATOR_FORMS)), htmx=st.booleans(), data=st.data())
def test_operator_forms_never_answer_5xx(app: FastAPI, path: str, htmx: bool, data: Any) -> None:
    if not hasattr(app.state, "fuzz_operator"):
        app.state.fuzz_operator = _operator_client(app)
    client, csrf, ids = app.state.fuzz_operator
    form = {name: data.draw(values, label=name) for name in OPERATOR_FORMS[path] if data.draw(st.booleans())}
    headers = {"HX-Request": "true"} if htmx else {}
    r = client.post(
        path.format(**ids), data={**form, "csrf_token": csrf}, headers=headers, follow_redirects=False
    )
    assert r.status_code < 500, (path, form, r.text[-500:])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(OPERATOR_GETS), value=text)
def test_operator_pages_never_answer_5xx(app: FastAPI, template: str, value: str) -> None:
    if not hasattr(app.state, "fuzz_operator"):
        app.state.fuzz_operator = _operator_client(app)
    client, _, _ = app.state.fuzz_operator
    from urllib.parse import quote

    r = client.get(template.format(v=quote(value, safe="")), follow_redirects=False)
    assert r.status_code < 500, (template, value, r.text[-500:])
