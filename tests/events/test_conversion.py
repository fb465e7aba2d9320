from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.events.helpers import EventOrg, add_click, make_event_org
from tests.events.test_collect import stored
from tests.factories import ctx_of
from threadline.store.models import InsightsHourly


def conv(eorg: EventOrg, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "click_id": eorg.click_id,
        "conversion_time": "2026-02-19T18:00:00Z",
        "conversion_value": 49.99,
        "currency": "USD",
        "order_id": "order-123",
        "event_type": "purchase_completed",
        "customer_tier": "gold",
    }
    body.update(overrides)
    return body


def post(
    client: TestClient,
    eorg: EventOrg,
    body: dict[str, Any],
    key: str | None = None,
    path: str = "/v1/api/conversion",
) -> Any:
    headers = {**eorg.headers, **({"Idempotency-Key": key} if key else {})}
    r = client.post(path, headers=headers, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def rollup_rows(app: FastAPI, ad_id: str) -> list[InsightsHourly]:
    with ctx_of(app).db.read() as s:
        return list(
            s.execute(
                select(InsightsHourly).where(InsightsHourly.ad_id == ad_id).order_by(InsightsHourly.hour)
            ).scalars()
        )


@pytest.mark.parametrize("path", ["/v1/api/conversion", "/api/conversion"])
def test_seed_example_ok_then_duplicate(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg, path: str
) -> None:
    assert post(client, eorg, conv(eorg), key="order-123", path=path) == {"status": "ok"}
    assert post(client, eorg, conv(eorg), key="order-123", path=path) == {"status": "duplicate"}
    [row] = stored(client, admin_headers, eorg.id, "conversion")
    assert row["click_id"] == eorg.click_id
    assert row["conversion_time"] == "2026-02-19T18:00:00Z"
    assert row["conversion_value"] == 49.99
    assert row["conversion_value_micros"] == 49_990_000
    assert row["currency"] == "USD"
    assert row["order_id"] == "order-123"
    assert row["event_type"] == "purchase_completed"
    assert row["event_id"] is None
    assert row["channel"] == "server"
    assert row["campaign_id"] == eorg.ad.campaign_id
    assert row["ad_group_id"] == eorg.ad.ad_group_id
    assert row["ad_id"] == eorg.ad.ad_id
    assert row["dedupe_key"] == "idem:order-123"
    assert row["order_key"] == f'order:["{eorg.click_id}","purchase_completed","order-123"]'
    assert row["params"] == {
        "integration": "partner_s2s",
        "partner_id": eorg.id,
        "api_key_label": "backend",
        "extra": {"customer_tier": "gold"},
    }


def test_defaults_context_fields_and_currency_uppercased(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    body = {
        "click_id": eorg.click_id,
        "conversion_time": "2026-02-19T20:30:00+02:30",
        "conversion_value": 0,
        "currency": "eur",
        "page_url": "https://shop.example.com/thanks",
        "referrer": "https://shop.example.com/cart",
        "user_agent": "UA",
        "channel": "web",
        "session_id": "s",
        "client_id": "c",
        "tag_id": "adv_001",
    }
    assert post(client, eorg, body) == {"status": "ok"}
    [row] = stored(client, admin_headers, eorg.id, "conversion")
    assert row["event_type"] == "purchase_completed"
    assert row["conversion_time"] == "2026-02-19T18:00:00Z"
    assert row["currency"] == "EUR"
    assert row["conversion_value"] == 0.0
    for name in ("page_url", "referrer", "user_agent", "channel", "session_id", "client_id", "tag_id"):
        assert row[name] == body[name], name
    assert (row["dedupe_key"], row["order_key"]) == (None, None)
    assert "extra" not in row["params"]


def test_idempotency_key_wins_over_event_id(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    assert post(client, eorg, conv(eorg, event_id="e1", order_id="o1"), key="k1") == {"status": "ok"}
    assert post(client, eorg, conv(eorg, event_id="e2", order_id="o2"), key="k1") == {"status": "duplicate"}
    # The header was the explicit key, so event_id e1 was never stored as one.
    assert post(client, eorg, conv(eorg, event_id="e1", order_id="o3"), key="k2") == {"status": "ok"}
    rows = stored(client, admin_headers, eorg.id, "conversion")
    assert [(r["dedupe_key"], r["order_id"]) for r in rows] == [("idem:k2", "o3"), ("idem:k1", "o1")]


def test_one_order_is_one_conversion_whichever_keys_each_report_carries(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    assert post(client, eorg, conv(eorg), key="order-123") == {"status": "ok"}
    assert post(client, eorg, conv(eorg)) == {"status": "duplicate"}  # the same order, no key
    assert post(client, eorg, conv(eorg), key="retry-2") == {"status": "duplicate"}  # under a new key
    other = conv(eorg, order_id="order-456")
    assert post(client, eorg, other, key="order-123") == {"status": "duplicate"}  # the key was seen
    assert post(client, eorg, other) == {"status": "ok"}  # a different order, no key
    rows = stored(client, admin_headers, eorg.id, "conversion")
    assert [(r["order_id"], r["dedupe_key"], r["order_key"]) for r in rows] == [
        ("order-456", None, f'order:["{eorg.click_id}","purchase_completed","order-456"]'),
        ("order-123", "idem:order-123", f'order:["{eorg.click_id}","purchase_completed","order-123"]'),
    ]


def test_event_id_and_order_then_the_order_under_another_event_id_is_a_duplicate(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    assert post(client, eorg, conv(eorg, event_id="e1")) == {"status": "ok"}
    assert post(client, eorg, conv(eorg, event_id="e2")) == {"status": "duplicate"}
    assert post(client, eorg, conv(eorg, event_id="e1", order_id="other")) == {"status": "duplicate"}
    [row] = stored(client, admin_headers, eorg.id, "conversion")
    assert (row["event_id"], row["dedupe_key"]) == ("e1", "event_id:e1")


def test_order_id_dedupes_per_click_and_event_type(app: FastAPI, client: TestClient, eorg: EventOrg) -> None:
    assert post(client, eorg, conv(eorg)) == {"status": "ok"}
    assert post(client, eorg, conv(eorg, conversion_value=1)) == {"status": "duplicate"}
    assert post(client, eorg, conv(eorg, event_type="subscription_created")) == {"status": "ok"}
    other_click = add_click(app, eorg.ad.ad_id)
    assert post(client, eorg, conv(eorg, click_id=other_click)) == {"status": "ok"}
    # The same holds when the reports carry explicit keys: only the order key is shared.
    assert post(client, eorg, conv(eorg, event_type="refund"), key="a") == {"status": "ok"}
    assert post(client, eorg, conv(eorg, event_type="refund", click_id=other_click), key="b") == {
        "status": "ok"
    }
    assert post(client, eorg, conv(eorg, event_type="refund"), key="c") == {"status": "duplicate"}


def test_without_any_key_every_call_is_new(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    body = conv(eorg)
    del body["order_id"]
    assert post(client, eorg, body) == {"status": "ok"}
    assert post(client, eorg, body) == {"status": "ok"}
    assert post(client, eorg, conv(eorg, order_id="", event_id="")) == {"status": "ok"}
    assert len(stored(client, admin_headers, eorg.id, "conversion")) == 3


def test_unknown_and_foreign_clicks_are_404(app: FastAPI, client: TestClient, eorg: EventOrg) -> None:
    other = make_event_org(app, name="Other")
    expected = {
        "error": {
            "message": "No click with this click_id for this organization.",
            "type": "not_found_error",
            "param": "click_id",
            "code": "click_not_found",
        }
    }
    for click_id in ("11111111-1111-4111-8111-111111111111", other.click_id, "x" * 2048):
        r = client.post("/v1/api/conversion", headers=eorg.headers, json=conv(eorg, click_id=click_id))
        assert r.status_code == 404
        assert r.json() == expected


def test_conversion_is_counted_in_the_hour_of_its_conversion_time(
    app: FastAPI, client: TestClient, eorg: EventOrg
) -> None:
    click_hour = rollup_rows(app, eorg.ad.ad_id)
    assert [(r.clicks, r.conversions) for r in click_hour] == [(1, 0)]
    late = conv(eorg, conversion_time="2026-02-19T18:59:59Z", order_id="a")
    assert post(client, eorg, late) == {"status": "ok"}
    early = conv(eorg, conversion_time="2026-02-19T18:00:00Z", conversion_value=10, order_id="b")
    assert post(client, eorg, early) == {"status": "ok"}
    assert post(client, eorg, conv(eorg, currency="EUR", conversion_value=7, order_id="c")) == {
        "status": "ok"
    }
    assert post(client, eorg, conv(eorg, order_id="a")) == {"status": "duplicate"}  # not counted twice
    rows = rollup_rows(app, eorg.ad.ad_id)
    feb = [r for r in rows if r.hour == 1771524000]  # 2026-02-19T18:00:00Z
    assert len(feb) == 1
    bucket = feb[0]
    assert (bucket.conversions, bucket.conversion_value_micros) == (3, 59_990_000)  # EUR counted, not summed
    assert (bucket.org_id, bucket.campaign_id, bucket.ad_group_id) == (
        eorg.id,
        eorg.ad.campaign_id,
        eorg.ad.ad_group_id,
    )
    assert (bucket.supply, bucket.country, bucket.clicks) == ("direct", "US", 0)


def test_extra_fields_are_sanitized_never_rejected(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    extra = {
        "tier": "gold",
        "n": 3,
        "ok.key-1_x": None,
        "flag": True,
        "tags": ["a", 1, None],
        "shallow": {"a": 1, "b": "c"},
        "bad key": 1,
        "k" * 65: 1,
        "": 1,
        "nested": {"a": {"b": 1}},
        "listy": [[1]],
        "bad_inner": {"no spaces": 1},
        "big": "x" * 8200,
        "after_big": "fits",
    }
    assert post(client, eorg, conv(eorg, **extra)) == {"status": "ok"}
    [row] = stored(client, admin_headers, eorg.id, "conversion")
    assert row["params"]["extra"] == {
        "customer_tier": "gold",
        "tier": "gold",
        "n": 3,
        "ok.key-1_x": None,
        "flag": True,
        "tags": ["a", 1, None],
        "shallow": {"a": 1, "b": "c"},
        "after_big": "fits",
    }


def test_extra_total_is_capped_at_8kb(
    client: TestClient, admin_headers: dict[str, str], eorg: EventOrg
) -> None:
    extra = {f"f{i}": "y" * 1000 for i in range(12)}
    assert post(client, eorg, conv(eorg, **extra)) == {"status": "ok"}
    [row] = stored(client, admin_headers, eorg.id, "conversion")
    kept = row["params"]["extra"]
    assert list(kept) == ["customer_tier"] + [f"f{i}" for i in range(len(kept) - 1)]
    assert 7 <= len(kept) - 1 < 12
    import json

    assert len(json.dumps(kept)) <= 8192


def test_conversion_of_a_charged_click_keeps_click_rollup(
    app: FastAPI, client: TestClient, eorg: EventOrg
) -> None:
    add_click(app, eorg.ad.ad_id, supply="publisher", country="de", charge_micros=1_500_000)
    rows = [r for r in rollup_rows(app, eorg.ad.ad_id) if r.supply == "publisher"]
    assert [(r.country, r.clicks, r.spend_micros) for r in rows] == [("DE", 1, 1_500_000)]
