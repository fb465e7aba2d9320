"""Every parameter error of the insights endpoints, with its exact body."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.datastructures import QueryParams

from tests.factories import make_org
from tests.insights.helpers import T0, add_ad, add_ad_group, add_campaign, error, get
from threadline.insights.params import DEFAULT_RANGE_SECONDS, Window, parse
from threadline.kit.clock import MovableClock

RANGE_HELP = (
    'Each time_ranges[] value must be a JSON object: {"type":"date_range","since":"YYYY-MM-DD",'
    '"until":"YYYY-MM-DD"}, {"type":"time_range","start_time":int,"end_time":int} or '
    '{"type":"preset","preset":"today|yesterday|last_7_days|last_30_days|this_month|last_month"}.'
)
FILTER_HELP = 'A filter is {"field", "operator", "value"}: a string value for equals, a non-empty array of strings for in.'
METRICS = "impressions, clicks, spend, ctr, cpc, cpm, conversions, conversion_value, cpa, roas, viewable_impressions"


def tr(start: int, end: int) -> str:
    return json.dumps({"type": "time_range", "start_time": start, "end_time": end})


def dr(since: str, until: str) -> str:
    return json.dumps({"type": "date_range", "since": since, "until": until})


CASES: list[tuple[list[tuple[str, str]], str, str, str]] = [
    (
        [("time_granularity", "weekly")],
        "invalid_value",
        "time_granularity must be one of hourly, daily, monthly, none.",
        "time_granularity",
    ),
    (
        [("time_granularity", "daily"), ("time_granularity", "none")],
        "invalid_value",
        "time_granularity may be given only once.",
        "time_granularity",
    ),
    (
        [("aggregation_level", "org")],
        "invalid_value",
        "aggregation_level must be one of ad_account, campaign, ad_group, ad.",
        "aggregation_level",
    ),
    ([("time_ranges[]", "{not json")], "invalid_value", RANGE_HELP, "time_ranges[]"),
    ([("time_ranges[]", '"today"')], "invalid_value", RANGE_HELP, "time_ranges[]"),
    ([("time_ranges[]", '{"type":"week"}')], "invalid_value", RANGE_HELP, "time_ranges[]"),
    (
        [("time_ranges[]", '{"type":"preset","preset":"last_90_days"}')],
        "invalid_value",
        RANGE_HELP,
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", '{"type":"time_range","start_time":"1","end_time":2}')],
        "invalid_value",
        RANGE_HELP,
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", '{"type":"time_range","start_time":1,"end_time":2,"x":1}')],
        "invalid_value",
        RANGE_HELP,
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", '{"type":"time_range","start_time":-1,"end_time":2}')],
        "invalid_value",
        RANGE_HELP,
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", '{"type":"time_range","start_time":1,"end_time":99999999999999999999999}')],
        "invalid_value",
        RANGE_HELP,
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", dr("2026-13-01", "2026-12-01"))],
        "invalid_value",
        "Invalid date '2026-13-01': expected YYYY-MM-DD.",
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", dr("2026-04-01", "20260402"))],
        "invalid_value",
        "Invalid date '20260402': expected YYYY-MM-DD.",
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", dr("1969-12-31", "1970-01-02"))],
        "invalid_value",
        "Invalid date '1969-12-31': dates start at 1970-01-01.",
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", tr(T0, T0))],
        "invalid_time_range",
        "A time range must end after it starts.",
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", dr("2026-04-02", "2026-04-01"))],
        "invalid_time_range",
        "A time range must end after it starts.",
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", dr("2024-01-01", "2025-01-01"))],
        "range_too_wide",
        "A time range may span at most 366 days.",
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", tr(T0, T0 + 366 * 86400 + 1))],
        "range_too_wide",
        "A time range may span at most 366 days.",
        "time_ranges[]",
    ),
    (
        [("time_granularity", "hourly"), ("time_ranges[]", tr(T0, T0 + 25 * 3600 + 1))],
        "hourly_range_too_wide",
        "With hourly granularity a time range may span at most 25 hours.",
        "time_ranges[]",
    ),
    (
        [("time_granularity", "hourly")],
        "hourly_range_too_wide",
        "With hourly granularity a time range may span at most 25 hours (the default range is 30 days: pass time_ranges[]).",
        "time_ranges[]",
    ),
    (
        [("time_ranges[]", tr(T0, T0 + 1))] * 21,
        "invalid_value",
        "At most 20 time_ranges[] may be given.",
        "time_ranges[]",
    ),
    ([("fields[]", "reach")], "unknown_field", f"Unknown field 'reach'. Fields: {METRICS}.", "fields[]"),
    (
        [("fields", "campaign.reach")],
        "unknown_field",
        f"Unknown field 'campaign.reach'. Fields: {METRICS}.",
        "fields[]",
    ),
    (
        [("fields[]", "org.clicks")],
        "unknown_field",
        f"Unknown field 'org.clicks'. Fields: {METRICS}.",
        "fields[]",
    ),
    ([("fields[]", "")], "unknown_field", f"Unknown field ''. Fields: {METRICS}.", "fields[]"),
    ([("fields[]", "x" * 4097)], "invalid_value", "A fields[] value is too long.", "fields[]"),
    ([("filters[]", "[1]")], "invalid_value", "Each filters[] value must be a JSON object.", "filters[]"),
    ([("filters[]", "nope")], "invalid_value", "Each filters[] value must be a JSON object.", "filters[]"),
    (
        [("filters[]", '{"field":"status","operator":"equals","value":"active"}')],
        "invalid_filter",
        "Unknown filter field 'status'. Filter fields: campaign.id, ad_group.id, ad.id, supply.",
        "filters[]",
    ),
    (
        [("filters[]", '{"field":"supply","operator":"contains","value":"th"}')],
        "invalid_filter_operator",
        "Operator 'contains' is not allowed on supply: use equals or in.",
        "filters[]",
    ),
    (
        [("filters[]", '{"field":"ad.id","operator":"not_in","value":["a"]}')],
        "invalid_filter_operator",
        "Operator 'not_in' is not allowed on ad.id: use equals or in.",
        "filters[]",
    ),
    (
        [("filters[]", '{"field":"supply","operator":"in","value":[]}')],
        "invalid_value",
        FILTER_HELP,
        "filters[]",
    ),
    (
        [("filters[]", '{"field":"supply","operator":"in","value":"thrad"}')],
        "invalid_value",
        "The equals operator takes a string value; in takes an array of strings.",
        "filters[]",
    ),
    (
        [("filters[]", '{"field":"supply","operator":"equals","value":["thrad"]}')],
        "invalid_value",
        "The equals operator takes a string value; in takes an array of strings.",
        "filters[]",
    ),
    (
        [("filters[]", '{"field":"supply","operator":"equals","value":7}')],
        "invalid_value",
        FILTER_HELP,
        "filters[]",
    ),
    ([("filters[]", '{"field":"supply","operator":"equals"}')], "invalid_value", FILTER_HELP, "filters[]"),
    (
        [("breakdowns[]", "device")],
        "invalid_value",
        "Unknown breakdown 'device'. Breakdowns: supply, country.",
        "breakdowns[]",
    ),
    ([("limit", "0")], "invalid_value", "limit must be an integer from 1 to 10000.", "limit"),
    ([("limit", "10001")], "invalid_value", "limit must be an integer from 1 to 10000.", "limit"),
    ([("limit", "-1")], "invalid_value", "limit must be an integer from 1 to 10000.", "limit"),
    ([("limit", "ten")], "invalid_value", "limit must be an integer from 1 to 10000.", "limit"),
    ([("limit", "9" * 5000)], "invalid_value", "limit is too long.", "limit"),
    ([("after", "row-7")], "invalid_value", "after must be the id of a row of this query.", "after"),
    (
        [("after", f"start={T0}:end={T0 + 86400}:entity_id=x:supply=thrad")],
        "invalid_value",
        "after must be the id of a row of this query.",
        "after",
    ),
]


@pytest.mark.parametrize(
    ("params", "code", "message", "param"), CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)]
)
def test_parameter_errors(
    app: FastAPI,
    client: TestClient,
    clock: MovableClock,
    params: list[tuple[str, str]],
    code: str,
    message: str,
    param: str,
) -> None:
    clock.set(T0)
    org = make_org(app)
    r = get(client, org, "/v1/ad_account/insights", params)
    assert r.status_code == 400
    assert r.json() == error(code, message, param)


def test_aggregation_level_above_scope(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    cid = add_campaign(app, org)
    gid = add_ad_group(app, org, cid)
    ad = add_ad(app, org, cid, gid)
    for path, level, scope in [
        (f"/v1/campaigns/{cid}/insights", "ad_account", "campaign"),
        (f"/v1/ad_groups/{gid}/insights", "campaign", "ad_group"),
        (f"/v1/ads/{ad.id}/insights", "ad_group", "ad"),
    ]:
        r = get(client, org, path, [("aggregation_level", level)])
        assert r.status_code == 400
        assert r.json() == error(
            "aggregation_level_too_high",
            f"aggregation_level {level} is above this endpoint's scope ({scope}).",
            "aggregation_level",
        )
    assert get(client, org, f"/v1/campaigns/{cid}/insights", [("aggregation_level", "ad")]).status_code == 200


def test_unknown_query_parameters_are_ignored(app: FastAPI, client: TestClient) -> None:
    org = make_org(app)
    r = get(client, org, "/v1/ad_account/insights", [("_", "123"), ("sort[]", "x")])
    assert r.status_code == 200
    assert r.json()["object"] == "list"


def test_openapi_documents_the_parameters(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/v1/campaigns/{campaign_id}/insights"]["get"]
    names = [p["name"] for p in op["parameters"]]
    assert names == [
        "campaign_id",
        "time_granularity",
        "aggregation_level",
        "time_ranges[]",
        "fields[]",
        "filters[]",
        "breakdowns[]",
        "limit",
        "after",
    ]
    assert set(op["responses"]) == {"200", "400", "401", "404", "429"}


def test_the_default_window_is_the_last_30_days_including_the_current_second() -> None:
    # An impression stamped in this very second counts, also in the first second of an hour (its
    # bucket starts at `now`; an exclusive end at `now` would leave it out).
    now = T0 + 3600  # the first second of an hour
    query = parse(QueryParams(""), "ad_account", now)
    assert query.windows == (Window(now + 1 - DEFAULT_RANGE_SECONDS, now + 1),)
