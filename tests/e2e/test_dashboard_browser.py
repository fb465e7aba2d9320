"""The dashboard in a real headless Chromium against a real server process (spec 90, issue 14).

The goal journey as one test: sign in, the overview's numbers equal the insights API's after
`threadline simulate`, a campaign created through the form with an uploaded creative and the deposit
confirmed, an API key rotated while the old key still answers in its grace window, a sandbox card
added, a Threads post composed and scheduled, and the operator approving the campaign from the review
queue. Also: an invalid budget shows the API's own message next to the field, and the consent screen
ends in a working Threads token. Screenshots of every page go to THREADLINE_SCREENSHOT_DIR, or to
`dashboard-screenshots/` in the test run's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.databases import fresh_database
from tests.e2e.browser import Shots, browser, require_chromium
from tests.e2e.server import ServerProcess
from tests.e2e.support import STORES, admin_headers, png, server_env
from threadline.cli import app as cli
from threadline.publishing.rules import text_length

pytestmark = pytest.mark.e2e
FIELDS = ("impressions", "clicks", "spend", "conversions")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    chosen = os.environ.get("THREADLINE_SCREENSHOT_DIR")
    # Each xdist worker numbers its own shots from 01: one subfolder each, or they overwrite each other's.
    folder = (
        Path(chosen, os.environ.get("PYTEST_XDIST_WORKER", ""))
        if chosen
        else tmp_path_factory.mktemp("dashboard-screenshots")
    )
    print(f"\ndashboard screenshots: {folder}")
    return Shots(folder)


@pytest.fixture(params=STORES)
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    require_chromium()
    with fresh_database(request.param, tmp_path) as url:
        data = tmp_path / "data"
        proc = ServerProcess(data, server_env(url))
        env = {
            "THREADLINE_DATA_DIR": str(data),
            "THREADLINE_PUBLIC_BASE_URL": proc.base_url,
            **server_env(url),
        }
        seeded = CliRunner().invoke(cli, ["demo", "--json"], env=env)
        assert seeded.exit_code == 0, seeded.output
        proc.start()
        try:
            yield proc, json.loads(seeded.stdout)
        finally:
            proc.stop()


def _sign_in(page: Any, base: str, email: str, password: str, target: str = "/app/") -> None:
    page.goto(base + target)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def _api_totals(http: httpx.Client, key: str) -> dict[str, Any]:
    preset = json.dumps({"type": "preset", "preset": "last_30_days"})
    r = http.get(
        "/v1/ad_account/insights",
        params=[("time_granularity", "none"), ("time_ranges[]", preset), *(("fields[]", f) for f in FIELDS)],
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text
    (row,) = r.json()["data"]
    return row


def _page_value(page: Any, period: str, field: str) -> float:
    cell = page.locator(f'[data-period="{period}"] [data-field="{field}"]')
    return float(cell.get_attribute("data-value"))


def test_goal_journey(demo: tuple[ServerProcess, dict[str, str]], shots: Shots, tmp_path: Path) -> None:
    proc, info = demo
    base = proc.base_url
    http = httpx.Client(base_url=base, timeout=15)

    # Traffic first, so the overview has numbers to compare.
    result = CliRunner().invoke(
        cli,
        [
            "simulate",
            "--conversations",
            "25",
            "--seed",
            "7",
            "--json",
            "--base-url",
            base,
            "--conversion-rate",
            "0.5",
        ],
        env={"THREADLINE_DATA_DIR": str(proc.data_dir)},
    )
    assert result.exit_code == 0, result.output
    api = _api_totals(http, info["advertiser_key"])
    assert api["impressions"] > 0

    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base + "/app/")
        assert "/app/signin" in page.url
        shots.take(page, "signin")
        _sign_in(page, base, info["dashboard_email"], info["dashboard_password"])
        assert page.url == base + "/app/"
        for field in FIELDS:
            assert _page_value(page, "last_30_days", field) == pytest.approx(api[field], abs=1e-9), field
        assert page.locator("#daily-table tbody tr").count() >= 1
        shots.take(page, "overview")
        mobile = b.new_page(viewport={"width": 375, "height": 800})
        mobile.context.add_cookies(page.context.cookies())
        mobile.goto(base + "/app/")
        assert mobile.evaluate("document.documentElement.scrollWidth") <= 375 + 1
        shots.take(mobile, "overview-375px")
        mobile.close()

        # A campaign through the form: upload the creative, see and confirm the $10 deposit.
        page.goto(base + "/app/campaigns/new")
        shots.take(page, "new-campaign")
        page.get_by_label("Name", exact=True).fill("Browser launch")
        page.get_by_label("Lifetime budget (USD)").fill("30")
        page.get_by_label("Context hints").fill("running shoes, marathon training")
        page.get_by_label("Title", exact=True).fill("Trail shoes for marathoners")
        page.get_by_label("Body").fill("Grip and cushioning for long runs.")
        page.get_by_label("Link (target URL)").fill("https://acme.example.com/trail")
        creative = tmp_path / "creative.png"
        creative.write_bytes(png(64))
        page.get_by_label("Image", exact=True).set_input_files(str(creative))
        page.get_by_role("button", name="Continue to deposit").click()
        page.wait_for_load_state()
        assert "$10.00" in page.locator("#deposit").inner_text()
        shots.take(page, "deposit-confirm")
        page.locator("#confirm-deposit").click()
        page.wait_for_url(re.compile(r".*/app/campaigns/[0-9a-f-]{36}.*"))
        campaign_id = re.search(r"/campaigns/([0-9a-f-]{36})", page.url).group(1)  # type: ignore[union-attr]
        assert page.locator("#review-status").inner_text() == "in_review"
        assert page.locator(".preview img").count() == 1
        shots.take(page, "campaign-detail")
        page.get_by_label("Metric").select_option("clicks")
        page.wait_for_selector('#series-chart-table[data-label="clicks"]')
        page.goto(base + "/app/campaigns")
        assert page.locator(f'tr[data-id="{campaign_id}"]').count() == 1
        shots.take(page, "campaigns")
        page.goto(base + "/app/creatives")
        assert page.locator("#creatives-table tbody img").count() >= 1
        shots.take(page, "creatives")

        # Rotate the API key: the new secret is shown once and the old key still answers in its grace.
        page.goto(base + "/app/settings")
        page.locator("#rotate-key").click()
        page.wait_for_load_state()
        new_key = page.locator("#new-secret").inner_text().strip()
        assert new_key.startswith("ak_")
        assert page.locator("#grace").count() == 1
        for key in (info["advertiser_key"], new_key):
            r = http.get("/v1/campaigns", headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200, r.text
        # A sandbox card from the picker.
        page.get_by_label("Sandbox test card").select_option("tok_mastercard")
        page.locator("#add-card").click()
        page.wait_for_load_state()
        assert "mastercard ending 4444 added" in page.locator(".notice").inner_text()
        assert "mastercard •••• 4444" in page.locator("#cards-table").inner_text()
        shots.take(page, "settings")

        # Compose and schedule a Threads post; the counters follow the API's rules while typing.
        page.goto(base + "/app/publishing")
        text = "Trail week starts now 🏃 https://acme.example.com/trail"
        page.get_by_label("Text", exact=True).fill(text)
        # The page's count is the publishing rule's count (an emoji counts as its UTF-8 bytes).
        assert page.locator("#char-count").inner_text() == f"{text_length(text)} / 500 characters"
        assert page.locator("#link-count").inner_text() == "1 / 5 links"
        page.get_by_label("Schedule for (UTC; empty: publish now)").fill("2099-01-01T09:30")
        page.locator("#submit-post").click()
        page.wait_for_load_state()
        assert "Post scheduled." in page.locator(".notice").inner_text()
        assert "scheduled" in page.locator("#scheduled-table").inner_text()
        shots.take(page, "publishing")
        page.goto(base + "/app/account")
        shots.take(page, "account")

        # The operator approves the new campaign from the review queue.
        ops = b.new_context(viewport={"width": 1280, "height": 900}).new_page()
        _sign_in(ops, base, info["operator_email"], info["operator_password"])
        assert ops.url == base + "/app/ops/"
        card = ops.locator(f'[data-campaign="{campaign_id}"]')
        assert card.locator(".preview").count() == 1
        shots.take(ops, "ops-review-queue")
        card.get_by_role("button", name="Approve").click()
        ops.wait_for_load_state()
        assert "Approved Browser launch." in ops.locator(".notice").inner_text()
        for name in ("orgs", "publishers", "people", "jobs", "tool-calls"):
            ops.goto(f"{base}/app/ops/{name}")
            assert ops.locator("h1").count() == 1
            shots.take(ops, f"ops-{name}")
        # One org's page from the list: the tier changes in place (htmx), and the page fits 375 px.
        ops.goto(f"{base}/app/ops/orgs")
        ops.locator("#orgs-table a", has_text="Acme").first.click()
        ops.wait_for_load_state()
        assert "visa" in ops.locator("#cards-table").inner_text()
        ops.get_by_label("Tier", exact=True).select_option("plus")
        ops.locator("#set-tier").click()
        ops.wait_for_selector("#tier-section .notice")
        assert ops.locator("#tier-now strong").inner_text() == "Plus"
        shots.take(ops, "ops-org")
        ops.set_viewport_size({"width": 375, "height": 800})
        assert ops.evaluate("document.documentElement.scrollWidth") <= 375 + 1
        ops.set_viewport_size({"width": 1280, "height": 900})
        # One publisher's page: a bad floor gets the API's message next to the field, in place.
        ops.goto(f"{base}/app/ops/publishers")
        ops.locator("#publishers-table a").first.click()
        ops.wait_for_load_state()
        ops.get_by_label("Floor CPM (micros; 1,000,000 = $1.00)").fill("-1")
        ops.locator("#save-publisher").click()
        error = ops.locator('[data-error-for="floor_cpm_micros"]')
        error.wait_for()
        assert "greater than or equal to 0" in error.inner_text()
        assert ops.locator("#publisher-keys-table tbody tr").count() >= 1
        shots.take(ops, "ops-publisher")
    r = http.get(f"/v1/campaigns/{campaign_id}", headers={"Authorization": f"Bearer {new_key}"})
    assert r.json()["review_status"] == "approved"


def test_invalid_budget_shows_the_api_message(
    demo: tuple[ServerProcess, dict[str, str]], shots: Shots
) -> None:
    proc, info = demo
    base = proc.base_url
    body = {
        "name": "Too small",
        "budget": {"lifetime_spend_limit_micros": 500_000},
        "ad_groups": [
            {
                "name": "Too small",
                "ads": [
                    {
                        "name": "Trail card",
                        "creative": {
                            "type": "chat_card",
                            "title": "Trail card",
                            "body": "Grip for wet roots.",
                            "target_url": "https://a.example",
                        },
                    }
                ],
            }
        ],
    }
    r = httpx.post(
        f"{base}/v1/campaigns", json=body, headers={"Authorization": f"Bearer {info['advertiser_key']}"}
    )
    assert r.status_code == 400
    api_message = r.json()["error"]["message"]
    with browser() as b:
        page = b.new_page()
        _sign_in(page, base, info["dashboard_email"], info["dashboard_password"], "/app/campaigns/new")
        assert page.url.endswith("/app/campaigns/new")
        page.get_by_label("Name", exact=True).fill("Too small")
        page.get_by_label("Lifetime budget (USD)").fill("0.50")
        page.get_by_label("Title", exact=True).fill("Trail card")
        page.get_by_label("Body").fill("Grip for wet roots.")
        page.get_by_label("Link (target URL)").fill("https://a.example")
        page.get_by_role("button", name="Continue to deposit").click()
        page.wait_for_load_state()
        message = page.locator('[data-error-for="budget"]')
        assert message.inner_text() == api_message
        # Next to the field: the input points at its message.
        assert page.get_by_label("Lifetime budget (USD)").get_attribute("aria-describedby") == "budget-msg"
        shots.take(page, "new-campaign-invalid-budget")


def test_consent_screen_ends_in_a_working_token(
    demo: tuple[ServerProcess, dict[str, str]], shots: Shots
) -> None:
    proc, info = demo
    base = proc.base_url
    redirect_uri = f"{base}/healthz"
    r = httpx.post(
        f"{base}/admin/v1/apps",
        json={"name": "Scheduler Pro", "redirect_uris": [redirect_uri]},
        headers=admin_headers(),
    )
    assert r.status_code == 201, r.text
    app = r.json()
    query = httpx.QueryParams(
        client_id=app["client_id"],
        redirect_uri=redirect_uri,
        scope="threads_basic,threads_content_publish",
        response_type="code",
        state="st-42",
    )
    with browser() as b:
        page = b.new_page()
        page.goto(f"{base}/oauth/authorize?{query}")
        assert "/app/signin" in page.url
        page.get_by_label("Email").fill(info["dashboard_email"])
        page.get_by_label("Password").fill(info["dashboard_password"])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("#app-name")
        assert page.locator("#app-name").inner_text() == "Scheduler Pro"
        assert "threads_content_publish" in page.locator("#scopes").inner_text()
        shots.take(page, "oauth-consent")
        # the demo org has two profiles (@acme, @ada): the person picks which one the app may use
        page.get_by_label(f"@{info['threads_username']}").check()
        page.locator("#allow").click()
        page.wait_for_url(re.compile(r".*/healthz\?.*"))
        back = httpx.URL(page.url)
    assert back.params["state"] == "st-42"
    code = back.params["code"]
    token = httpx.post(
        f"{base}/oauth/access_token",
        data={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            "code": code,
        },
    )
    assert token.status_code == 200, token.text
    me = httpx.get(
        f"{base}/v1.0/me", params={"fields": "id,username", "access_token": token.json()["access_token"]}
    )
    assert me.status_code == 200, me.text
    assert me.json()["username"] == info["threads_username"]
