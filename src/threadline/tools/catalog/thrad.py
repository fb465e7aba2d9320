"""Thrad tools: the org's own ads, through the advertiser, media and insights services."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import anyio.to_thread
from pydantic import AfterValidator, Field, model_validator

from threadline.advertiser import launch
from threadline.advertiser import service as adv
from threadline.advertiser.schemas import AdCreate, CampaignCreate, CampaignUpdate
from threadline.billing import payment_methods
from threadline.insights import service as insights
from threadline.kit.errors import ApiError
from threadline.kit.pagination import PageParams
from threadline.media import service as media
from threadline.tools.envelope import ToolError
from threadline.tools.registry import Args, Call, HttpUrl, Tool, ToolResult

Selector = Annotated[
    str | None, Field(None, min_length=1, max_length=64, description="Thrad ad account id (optional).")
]
CampaignId = Annotated[str, Field(min_length=1, max_length=64, description="The campaign id.")]
METRICS = (
    "impressions",
    "clicks",
    "spend",
    "conversions",
    "conversion_value",
    "ctr",
    "cpc",
    "cpm",
    "cpa",
    "roas",
)
DAY = 86400


def _dollars(micros: int | None) -> str:
    return "n/a" if micros is None else f"${micros / 1_000_000:,.2f}"


def _campaign_line(c: dict[str, Any]) -> str:
    budget = c["budget"]["lifetime_spend_limit_micros"]
    return f"- **{c['name']}** (`{c['id']}`): {c['status']}, review {c['review_status']}, budget {_dollars(budget)}"


async def _run(fn: Any, *args: Any) -> Any:
    return await anyio.to_thread.run_sync(fn, *args)


# --- upload -------------------------------------------------------------------------------------


class UploadThradImagesArgs(Args):
    image_urls: list[HttpUrl] = Field(
        min_length=1,
        max_length=20,
        description="1-20 absolute http(s) image URLs (PNG, JPEG or WEBP, at most 5 MB each), fetched by "
        "Threadline into the upload library, as POST /v1/upload's image_url.",
    )
    ad_account_id: Selector


async def upload_thrad_images(call: Call, args: UploadThradImagesArgs) -> ToolResult:
    results: list[dict[str, Any]] = []
    for url in args.image_urls:
        try:
            data = await media.fetch_image_bytes(call.ctx, url)
            file_id = await _run(media.store_image, call.ctx, call.org_id, data)
        except ApiError as exc:
            results.append({"image_url": url, "success": False, "code": exc.code, "error": exc.message})
            continue
        results.append({"image_url": url, "success": True, "file_id": file_id})
    ok = [r for r in results if r["success"]]
    structured = {
        "uploaded": len(ok),
        "failed": len(results) - len(ok),
        "file_ids": [r["file_id"] for r in ok],
        "results": results,
    }
    if not ok:
        raise ToolError(
            400,
            results[0]["code"],
            f"None of the {len(results)} image(s) could be uploaded:\n"
            + "\n".join(f"- {r['image_url']}: {r['error']}" for r in results),
            "image_urls",
            structured_content=structured,
        )
    lines = [f"Uploaded {len(ok)} of {len(results)} image(s):"]
    lines += [
        f"- {r['image_url']} → file_id `{r['file_id']}`"
        if r["success"]
        else f"- {r['image_url']} → failed: {r['error']}"
        for r in results
    ]
    lines.append("Use a file_id as a chat_card creative's file_id.")
    return ToolResult("\n".join(lines), structured)


# --- create / validate --------------------------------------------------------------------------


def _with_account(call: Call, body: CampaignCreate) -> CampaignCreate:
    if body.ad_account_id is None and call.account is not None:
        return body.model_copy(update={"ad_account_id": call.account.account_id})
    return body


def _validate(call: Call, body: CampaignCreate) -> dict[str, Any]:
    ctx = call.ctx
    with ctx.db.read() as s:
        plan = launch.plan_campaign(s, ctx, call.org_id, body)
        if payment_methods.default_of(s, call.org_id) is None:
            raise launch.billing_not_configured()
    return {
        "valid": True,
        "ad_account_id": plan.ad_account_id,
        "ad_groups": len(plan.ad_groups),
        "ads": sum(len(g.ads) for g in plan.ad_groups),
        "start_time": plan.start_time,
        "end_time": plan.end_time,
        "deposit_micros": ctx.settings.deposit_micros,
    }


async def validate_thrad_campaign_draft(call: Call, args: CampaignCreate) -> ToolResult:
    out = await _run(_validate, call, _with_account(call, args))
    return ToolResult(
        f"The draft is valid: {out['ad_groups']} ad group(s), {out['ads']} ad(s). Creating it charges a "
        f"deposit of {_dollars(out['deposit_micros'])}. Nothing was created or charged.",
        out,
    )


async def create_thrad_campaign(call: Call, args: CampaignCreate) -> ToolResult:
    # The tool's Idempotency-Key is the deposit's guard too: a retry after a crash resumes the same
    # charge instead of taking the money twice (advertiser.launch).
    key = f"tool:{call.idempotency_key}" if call.idempotency_key else None
    campaign = await _run(launch.create_campaign, call.ctx, call.org_id, _with_account(call, args), key)
    return ToolResult(
        f"Created campaign **{campaign['name']}** (`{campaign['id']}`), status {campaign['status']}, review "
        f"{campaign['review_status']}. Deposit charged: {_dollars(call.ctx.settings.deposit_micros)}.",
        {
            "campaign": campaign,
            "campaign_id": campaign["id"],
            "deposit_micros": call.ctx.settings.deposit_micros,
        },
    )


# --- read ---------------------------------------------------------------------------------------


class ListCampaignsArgs(Args):
    limit: int = Field(20, ge=1, le=100, description="How many campaigns (newest first).")
    after: str | None = Field(None, min_length=1, max_length=200, description="Cursor: a campaign id.")
    ad_account_id: Selector


async def list_thrad_campaigns(call: Call, args: ListCampaignsArgs) -> ToolResult:
    page = await _run(
        adv.list_campaigns, call.ctx, call.org_id, PageParams(limit=args.limit, after=args.after)
    )
    campaigns = page["data"]
    text = (
        f"{len(campaigns)} campaign(s):\n" + "\n".join(_campaign_line(c) for c in campaigns)
        if campaigns
        else "No campaigns."
    )
    if page["has_more"]:
        text += f'\nMore campaigns: pass after="{page["last_id"]}".'
    return ToolResult(
        text, {"campaigns": campaigns, "has_more": page["has_more"], "last_id": page["last_id"]}
    )


class CampaignArgs(Args):
    campaign_id: CampaignId
    ad_account_id: Selector


def _details(call: Call, campaign_id: str) -> dict[str, Any]:
    ctx, org = call.ctx, call.org_id
    campaign = adv.get_campaign(ctx, org, campaign_id)
    groups = adv.list_ad_groups(ctx, org, campaign_id, PageParams(limit=50, order="asc"))["data"]
    for group in groups:
        group["ads"] = adv.list_ads(ctx, org, group["id"], PageParams(limit=50, order="asc"))["data"]
    return {**campaign, "ad_groups": groups}


async def get_thrad_campaign_details(call: Call, args: CampaignArgs) -> ToolResult:
    c = await _run(_details, call, args.campaign_id)
    lines = [_campaign_line(c)]
    for g in c["ad_groups"]:
        lines.append(f"  - ad group **{g['name']}** (`{g['id']}`): {g['status']}, {len(g['ads'])} ad(s)")
        lines += [f"    - ad **{a['name']}** (`{a['id']}`): {a['status']}" for a in g["ads"]]
    return ToolResult("\n".join(lines), {"campaign": c})


# --- performance --------------------------------------------------------------------------------


def _iso_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD") from None
    if len(value) != 10:
        raise ValueError("must be a date YYYY-MM-DD")
    return value


IsoDate = Annotated[str, AfterValidator(_iso_date)]


class PerformanceArgs(Args):
    campaign_id: str | None = Field(
        None, min_length=1, max_length=64, description="One campaign; omitted: all."
    )
    lookback_days: Literal[7, 14, 30, 60, 90] = Field(30, description="Days up to today (UTC).")
    start_date: IsoDate | None = Field(
        None, description="YYYY-MM-DD; with end_date instead of lookback_days."
    )
    end_date: IsoDate | None = Field(None, description="YYYY-MM-DD, inclusive.")
    raw_data: bool = Field(False, description="Only the JSON metrics block as text.")
    by_campaign: bool = Field(
        False,
        description="Without campaign_id: also one row per campaign (reads every ad's rollups; slower).",
    )
    ad_account_id: Selector

    @model_validator(mode="after")
    def _dates(self) -> PerformanceArgs:
        if (self.start_date is None) != (self.end_date is None):
            raise ValueError("start_date and end_date go together")
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValueError("start_date must not be after end_date")
        return self


class _Params:
    """The insights service's query-parameter protocol over plain values."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def getlist(self, key: str) -> list[str]:
        return self._values.get(key, [])


def _window(args: PerformanceArgs, now: float) -> tuple[str, str]:
    if args.start_date and args.end_date:
        return args.start_date, args.end_date
    today = datetime.fromtimestamp(now, UTC).date()
    return (today - timedelta(days=args.lookback_days - 1)).isoformat(), today.isoformat()


def _performance(call: Call, args: PerformanceArgs) -> dict[str, Any]:
    ctx = call.ctx
    since, until = _window(args, ctx.clock.now())
    base = {
        "time_ranges": [json.dumps({"type": "date_range", "since": since, "until": until})],
        "fields": list(METRICS),
    }
    scope, scope_id = ("campaign", args.campaign_id) if args.campaign_id else ("ad_account", None)
    # One aggregate gives the daily series and its total. Insights windows span at most 366 days, so
    # 400 daily rows are always one page and the total is always there.
    daily = insights.insights(
        ctx,
        call.org_id,
        scope,
        scope_id,
        _Params({**base, "time_granularity": ["daily"], "limit": ["400"]}),
        with_total=True,
    )
    total = daily["total"]
    assert total is not None, "a daily page of 400 rows holds any insights window"
    metrics = {m: total.get(m, 0) for m in METRICS}
    days = [{"date": r.get("readable_time"), **{m: r.get(m) for m in METRICS}} for r in daily["data"]]
    out: dict[str, Any] = {"since": since, "until": until, "metrics": metrics, "daily": days}
    if args.campaign_id:
        out["campaign_id"] = args.campaign_id
    elif args.by_campaign:
        per_campaign = insights.insights(
            ctx,
            call.org_id,
            "ad_account",
            None,
            _Params(
                {**base, "time_granularity": ["none"], "aggregation_level": ["campaign"], "limit": ["1000"]}
            ),
        )
        out["campaigns"] = [
            {
                "campaign_id": r.get("campaign_id"),
                "campaign_name": r.get("campaign_name"),
                **{m: r.get(m) for m in METRICS},
            }
            for r in per_campaign["data"]
        ]
    return out


async def get_thrad_campaign_performance(call: Call, args: PerformanceArgs) -> ToolResult:
    out = await _run(_performance, call, args)
    if args.raw_data:
        return ToolResult(json.dumps(out["metrics"], separators=(",", ":")), out)
    m = out["metrics"]
    what = f"Campaign `{args.campaign_id}`" if args.campaign_id else "All campaigns"
    text = (
        f"{what}, {out['since']} to {out['until']}: {m['impressions']} impressions, {m['clicks']} clicks "
        f"(CTR {m['ctr']}), spend ${m['spend']}, {m['conversions']} conversions (value ${m['conversion_value']}), "
        f"CPC {m['cpc']}, CPM {m['cpm']}, CPA {m['cpa']}, ROAS {m['roas']}."
    )
    return ToolResult(text, out)


# --- write --------------------------------------------------------------------------------------


class UpdateCampaignArgs(CampaignUpdate):
    campaign_id: CampaignId
    ad_account_id: Selector


async def update_thrad_campaign(call: Call, args: UpdateCampaignArgs) -> ToolResult:
    fields = args.model_fields_set - {"campaign_id", "ad_account_id"}
    body = CampaignUpdate.model_construct(_fields_set=set(fields), **{f: getattr(args, f) for f in fields})
    c = await _run(adv.update_campaign, call.ctx, call.org_id, args.campaign_id, body)
    return ToolResult(
        f"Updated campaign:\n{_campaign_line(c)}", {"campaign": c, "updated_fields": sorted(fields)}
    )


async def pause_thrad_campaign(call: Call, args: CampaignArgs) -> ToolResult:
    c = await _run(adv.campaign_action, call.ctx, call.org_id, args.campaign_id, "pause")
    return ToolResult(f"Paused campaign:\n{_campaign_line(c)}", {"campaign": c})


async def resume_thrad_campaign(call: Call, args: CampaignArgs) -> ToolResult:
    c = await _run(adv.campaign_action, call.ctx, call.org_id, args.campaign_id, "activate")
    return ToolResult(f"Resumed campaign:\n{_campaign_line(c)}", {"campaign": c})


class AddAdArgs(AdCreate):
    ad_account_id: Selector


async def add_thrad_ad(call: Call, args: AddAdArgs) -> ToolResult:
    fields = args.model_fields_set - {"ad_account_id"}
    body = AdCreate.model_construct(_fields_set=set(fields), **{f: getattr(args, f) for f in fields})
    ad = await _run(adv.create_ad, call.ctx, call.org_id, body)
    return ToolResult(
        f"Added ad **{ad['name']}** (`{ad['id']}`) to ad group `{ad['ad_group_id']}`; status {ad['status']}. "
        "The campaign goes back to review.",
        {"ad": ad, "ad_id": ad["id"]},
    )


TOOLS = [
    Tool(
        "upload_thrad_images",
        "Upload images from URLs into this organization's Thrad upload library (fetched by Threadline, "
        "validated as POST /v1/upload). Returns a file_id per URL for chat-card creatives; partial failures "
        "are listed per URL.",
        UploadThradImagesArgs,
        upload_thrad_images,
        "thrad",
        platform="thrad",
    ),
    Tool(
        "validate_thrad_campaign_draft",
        "Check a campaign draft (the nested body of create_thrad_campaign) against every rule of the create, "
        "including billing, without creating anything or charging the deposit. Free.",
        CampaignCreate,
        validate_thrad_campaign_draft,
        "thrad",
        platform="thrad",
        read_only=True,
        quota_free=True,
        idempotent=True,
    ),
    Tool(
        "create_thrad_campaign",
        "Create a Thrad campaign with its ad groups and ads in one call (the body of POST /v1/campaigns) and "
        "charge the deposit. Confirm with the user first. Send an Idempotency-Key: a retry with the same key "
        "never charges twice.",
        CampaignCreate,
        create_thrad_campaign,
        "thrad",
        platform="thrad",
    ),
    Tool(
        "list_thrad_campaigns",
        "List the organization's Thrad campaigns, newest first, with ids and status.",
        ListCampaignsArgs,
        list_thrad_campaigns,
        "thrad",
        platform="thrad",
        read_only=True,
        idempotent=True,
    ),
    Tool(
        "get_thrad_campaign_details",
        "One Thrad campaign with its ad groups and ads.",
        CampaignArgs,
        get_thrad_campaign_details,
        "thrad",
        platform="thrad",
        read_only=True,
        idempotent=True,
    ),
    Tool(
        "get_thrad_campaign_performance",
        "Performance (impressions, clicks, spend, conversions, CTR, CPC, CPM, CPA, ROAS) of one campaign or "
        "all, over lookback_days (7/14/30/60/90, default 30) or start_date..end_date, with a daily series. "
        "raw_data: true returns only the JSON metrics block.",
        PerformanceArgs,
        get_thrad_campaign_performance,
        "thrad",
        platform="thrad",
        read_only=True,
        idempotent=True,
    ),
    Tool(
        "update_thrad_campaign",
        "Change a campaign's name, description, schedule, budget, targeting, frequency or pricing model "
        "(only the fields sent). Status changes use pause/resume.",
        UpdateCampaignArgs,
        update_thrad_campaign,
        "thrad",
        platform="thrad",
        idempotent=True,
    ),
    Tool(
        "pause_thrad_campaign",
        "Pause a running campaign: its ads stop serving.",
        CampaignArgs,
        pause_thrad_campaign,
        "thrad",
        platform="thrad",
        destructive=True,
        idempotent=False,
    ),
    Tool(
        "resume_thrad_campaign",
        "Resume (activate) an approved campaign so its ads serve again.",
        CampaignArgs,
        resume_thrad_campaign,
        "thrad",
        platform="thrad",
        idempotent=True,
    ),
    Tool(
        "add_thrad_ad",
        "Add an ad (chat card or poll creative) to an existing ad group; the campaign goes back to review.",
        AddAdArgs,
        add_thrad_ad,
        "thrad",
        platform="thrad",
    ),
]
