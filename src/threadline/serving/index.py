"""The in-memory index of servable ads the decision path reads (it never queries per candidate).

A snapshot holds every ad of an active+approved campaign whose ad group and ad are active, with its
campaign's budget state and its ad group's compiled hints. Freshness:
- structure: migration 0003 keeps a version counter in `serving_state`, bumped by triggers in the same
  transaction as any change to campaigns/ad groups/ads/orgs that matters here (spend excluded). A
  background thread polls that one row every `POLL_SECONDS` and rebuilds the snapshot when it moves;
- spend: the same thread re-reads `spent_micros` of the indexed campaigns every poll, and this process's
  own reservations update the snapshot at once;
- time: start/end windows are checked at decision time against the clock, so nothing waits on a refresh.
So a paused or exhausted campaign stops matching within about half a second in every process.
The rows come through their owners' named queries: advertiser (servable ads, spend), insights (CTR
totals), operator (publishers); serving queries only its own `serving_state`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from threadline.advertiser import repository as advertiser_repository
from threadline.insights import repository as insights_repository
from threadline.kit.clock import Clock
from threadline.operator import repository as operator_repository
from threadline.serving.pricing import ecpm_micros
from threadline.serving.relevance import HintIndex, HintScorer, WeightedHints, hint_scorer_factory
from threadline.serving.tables import serving_state
from threadline.store.db import Database
from threadline.store.models import Ad, AdGroup

log = logging.getLogger("threadline.serving")

POLL_SECONDS = 0.25
CTR_REFRESH_SECONDS = 30.0
FORMAT_BY_CREATIVE = {"chat_card": "sponsored_message", "poll": "sponsored_poll"}


@dataclass
class CampaignState:
    id: str
    org_id: str
    pricing_model: str
    limit_micros: int
    spent_micros: int
    start_time: int
    end_time: int | None
    frequency: str
    countries: frozenset[str]
    # Set when a reservation failed: the campaign sits out until then (None = not blocked).
    blocked_until: float | None = None

    def remaining(self) -> int:
        return self.limit_micros - self.spent_micros

    def live(self, now: float) -> bool:
        if now < self.start_time or (self.end_time is not None and now >= self.end_time):
            return False
        if self.blocked_until is not None and now < self.blocked_until:
            return False
        return self.remaining() > 0

    def out_of_budget(self, now: float) -> bool:
        """Spent, or sitting out because a reservation just failed for want of budget or pacing room."""
        return self.remaining() <= 0 or (self.blocked_until is not None and now < self.blocked_until)

    def targets(self, country: str) -> bool:
        return not self.countries or country in self.countries


@dataclass
class AdEntry:
    ad_id: str
    ad_group_id: str
    campaign: CampaignState
    ad_format: str
    max_bid_micros: int
    advertiser: str
    domain: str
    title: str
    body: str
    cta_text: str
    target_url: str
    file_id: str | None
    poll_options: tuple[str, ...] = ()
    impressions: int = 0
    clicks: int = 0


@dataclass
class Snapshot:
    version: int
    built_mono: float
    campaigns: dict[str, CampaignState] = field(default_factory=dict)
    groups: dict[str, list[AdEntry]] = field(default_factory=dict)
    hints: HintScorer = field(default_factory=HintIndex)
    hintless_groups: tuple[str, ...] = ()
    ads: dict[str, AdEntry] = field(default_factory=dict)
    # group -> the highest eCPM any of its ads can bid now: an upper bound the auction prunes by. Serving
    # only lowers eCPMs (an impression lowers a cpc ad's predicted CTR); a CTR reload raises the bound
    # before the new figures land (_load_ctr).
    bounds: dict[str, int] = field(default_factory=dict)
    # format -> countries some ad of that format targets ("*" = an untargeted campaign)
    reach: dict[str, set[str]] = field(default_factory=dict)
    # The hints ordered by ``bounds`` for best-first search (lexical matcher only; None: not built yet).
    # Every bound it holds must stay >= the eCPM of its group's ads: _load_ctr rebuilds it before raising.
    order: WeightedHints | None = None
    # group -> the one format all its ads have (groups mixing formats are absent); None: not built yet
    formats: dict[str, str] | None = None
    # group -> (figures, its best ad, that ad's eCPM) for single-format groups, as the auction last found
    # it. The best ad moves only with the ads' impressions and clicks: note_impression drops its group's
    # entry, and a CTR reload bumps ``figures`` once its new figures are in (entries of older figures are
    # recomputed, also one computed while the reload was writing).
    best_ads: dict[str, tuple[int, AdEntry, int]] = field(default_factory=dict)
    figures: int = 0

    def ordered(self) -> WeightedHints | None:
        """The hints ordered by the groups' eCPM bounds; None for a matcher that scores every hint."""
        if self.order is None:
            self.order = _order(self, self.bounds)
        return self.order

    def group_formats(self) -> dict[str, str]:
        if self.formats is None:
            self.formats = {
                g: ads[0].ad_format
                for g, ads in self.groups.items()
                if ads and all(a.ad_format == ads[0].ad_format for a in ads)
            }
        return self.formats

    def note_impression(self, ad_id: str) -> None:
        entry = self.ads.get(ad_id)
        if entry is not None:
            entry.impressions += 1
            self.best_ads.pop(entry.ad_group_id, None)

    def figures_changed(self) -> None:
        """After new impression and click figures are in the entries: every best ad is found anew."""
        self.figures += 1

    def reaches(self, ad_format: str, country: str) -> bool:
        countries = self.reach.get(ad_format, set())
        return "*" in countries or country in countries


@dataclass(frozen=True)
class PublisherInfo:
    id: str
    supply: str
    floor_cpm_micros: int
    allowed_origins: tuple[str, ...]


def _domain(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _ad_entry(ad: Ad, group: AdGroup, state: CampaignState, org_name: str) -> AdEntry | None:
    creative: dict[str, Any] = ad.creative or {}
    ad_format = FORMAT_BY_CREATIVE.get(str(creative.get("type")))
    if ad_format is None:
        return None
    is_poll = ad_format == "sponsored_poll"
    return AdEntry(
        ad_id=ad.id,
        ad_group_id=group.id,
        campaign=state,
        ad_format=ad_format,
        max_bid_micros=int(group.max_bid_micros or 0),
        advertiser=org_name,
        domain=_domain(str(creative.get("target_url") or "")),
        title=str(creative.get("question" if is_poll else "title") or ""),
        body=str(creative.get("body") or ""),
        cta_text=str(creative.get("cta_text") or ("Vote" if is_poll else "Learn more")),
        target_url=str(creative.get("target_url") or ""),
        file_id=creative.get("file_id") or None,
        poll_options=tuple(str(o) for o in creative.get("options") or ()) if is_poll else (),
    )


class ServingIndex:
    def __init__(self, db: Database, clock: Clock, matcher: str = "lexical") -> None:
        self.db = db
        self.clock = clock
        self._new_hints = hint_scorer_factory(matcher)
        self._snapshot: Snapshot | None = None
        self._build_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctr_refreshed = 0.0
        self._publishers: dict[str, tuple[float, PublisherInfo | None]] = {}

    # -- reading ---------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        snap = self._snapshot
        if snap is None:
            with self._build_lock:
                if self._snapshot is None:
                    self._snapshot = self._build()
                    self._ctr_refreshed = self.clock.monotonic()
            snap = self._snapshot
        assert snap is not None
        return snap

    def ready(self) -> bool:
        """Whether the snapshot is built (reading it cannot start a build that queries the store)."""
        return self._snapshot is not None

    def cached_publisher(self, publisher_id: str) -> tuple[bool, PublisherInfo | None]:
        """``(True, settings)`` from the cache without touching the store, ``(False, None)`` on a miss."""
        hit = self._publishers.get(publisher_id)
        if hit is not None and hit[0] > self.clock.monotonic():
            return True, hit[1]
        return False, None

    def publisher(self, publisher_id: str) -> PublisherInfo | None:
        """Publisher settings, cached for as long as keys are (about a second)."""
        mono = self.clock.monotonic()
        hit = self._publishers.get(publisher_id)
        if hit is not None and hit[0] > mono:
            return hit[1]
        with self.db.read() as s:
            row = operator_repository.find_publisher(s, publisher_id)
        info = (
            None
            if row is None
            else PublisherInfo(
                row.id, row.supply, int(row.floor_cpm_micros), tuple(row.allowed_origins or ())
            )
        )
        if len(self._publishers) > 10_000:
            self._publishers.clear()
        self._publishers[publisher_id] = (mono + 1.0, info)
        return info

    # -- local feedback from reservations ---------------------------------------------------------
    def note_spend(self, campaign_id: str, amount: int) -> None:
        state = self.snapshot().campaigns.get(campaign_id)
        if state is not None:
            state.spent_micros += amount

    def block(self, campaign_id: str, until: float) -> None:
        state = self.snapshot().campaigns.get(campaign_id)
        if state is not None:
            state.blocked_until = until

    def note_impression(self, ad_id: str) -> None:
        self.snapshot().note_impression(ad_id)

    # -- refreshing --------------------------------------------------------------------------------
    def refresh_now(self) -> None:
        """Rebuild at once (tests; the CLI after bulk changes)."""
        with self._build_lock:
            self._snapshot = self._build()

    def poll(self) -> None:
        """One refresh step: rebuild on a version change, otherwise re-read spend (and CTR now and then)."""
        snap = self._snapshot
        if snap is None:
            return
        with self.db.read() as s:
            version = int(s.execute(select(serving_state.c.version)).scalar_one_or_none() or 0)
        if version != snap.version:
            with self._build_lock:
                self._snapshot = self._build()
            return
        self._refresh_spend(snap)
        mono = self.clock.monotonic()
        if mono - self._ctr_refreshed >= CTR_REFRESH_SECONDS:
            self._ctr_refreshed = mono
            self._load_ctr(snap)

    def start(self) -> None:
        """Start the refresher (a start-up hook: the owner's stop() ends it; a stopped index stays stopped)."""
        if self._thread is not None or self._stop.is_set():
            return
        self._thread = threading.Thread(target=self._run, name="serving-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            # A poll in progress finishes its query first; the store is still open at this point.
            thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.poll()
            except Exception:  # a failed poll keeps the last snapshot; the next one retries
                log.exception("serving index refresh failed")

    def _refresh_spend(self, snap: Snapshot) -> None:
        with self.db.read() as s:
            rows = advertiser_repository.live_campaign_spend(s)
        for cid, spent in rows:
            state = snap.campaigns.get(cid)
            if state is not None:  # the store includes every process's charges
                # Spend only grows; a read that began before one of this process's commits must not undo
                # the note_spend that followed it (the campaign would bid once more and then be blocked).
                state.spent_micros = max(state.spent_micros, int(spent))

    def _build(self) -> Snapshot:
        mono = self.clock.monotonic()
        now = self.clock.now_s()
        with self.db.read() as s:
            version = int(s.execute(select(serving_state.c.version)).scalar_one_or_none() or 0)
            rows = advertiser_repository.servable_ads(s, now)
        snap = Snapshot(version=version, built_mono=mono, hints=self._new_hints())
        group_hints: dict[str, list[str]] = {}
        for ad, group, campaign, org_name in rows:
            state = snap.campaigns.get(campaign.id)
            if state is None:
                state = CampaignState(
                    id=campaign.id,
                    org_id=campaign.org_id,
                    pricing_model=campaign.pricing_model,
                    limit_micros=int(campaign.lifetime_spend_limit_micros),
                    spent_micros=int(campaign.spent_micros),
                    start_time=int(campaign.start_time),
                    end_time=campaign.end_time,
                    frequency=campaign.recurring_frequency,
                    countries=frozenset(c.upper() for c in campaign.target_countries or ()),
                )
                snap.campaigns[campaign.id] = state
            entry = _ad_entry(ad, group, state, org_name)
            if entry is None:
                continue
            snap.groups.setdefault(group.id, []).append(entry)
            snap.ads[ad.id] = entry
            snap.reach.setdefault(entry.ad_format, set()).update(state.countries or ("*",))
            group_hints.setdefault(group.id, list(group.context_hints or ()))
        hintless = []
        for group_id, hints in group_hints.items():
            if hints:
                snap.hints.add(group_id, hints)
            else:
                hintless.append(group_id)
        snap.hints.build()
        snap.hintless_groups = tuple(hintless)
        _set_bounds(snap, snap.groups)
        snap.group_formats()
        self._load_ctr(snap)
        return snap

    def _load_ctr(self, snap: Snapshot) -> None:
        ads = snap.ads
        if not ads:
            return
        with self.db.read() as s:
            totals = insights_repository.ad_totals(s, _bounded(ads))
        changed: dict[str, list[AdEntry]] = {}
        for ad_id, (imps, clicks) in totals.items():
            entry = ads.get(ad_id)
            if entry is not None and (entry.impressions, entry.clicks) != (imps, clicks):
                new = replace(entry, impressions=imps, clicks=clicks)
                changed.setdefault(entry.ad_group_id, []).append(new)
        if not changed:
            snap.ordered()  # built here, off the request path, if no request has built it yet
            return
        raised = {
            g: max(snap.bounds.get(g, 0), *(ecpm_micros(n) for n in news)) for g, news in changed.items()
        }
        # Raise first: a request in between still finds a bound of every eCPM it can meet, in the order too.
        snap.order = _order(snap, {**snap.bounds, **raised})
        snap.bounds.update(raised)
        for news in changed.values():
            for new in news:
                entry = ads[new.ad_id]
                entry.impressions = new.impressions
                entry.clicks = new.clicks
        snap.figures_changed()
        _set_bounds(snap, changed)
        snap.order = _order(snap, snap.bounds)


def _order(snap: Snapshot, bounds: dict[str, int]) -> WeightedHints | None:
    if not isinstance(snap.hints, HintIndex):
        return None
    return snap.hints.weighted(bounds, snap.hintless_groups)


def _set_bounds(snap: Snapshot, group_ids: Iterable[str]) -> None:
    for group_id in group_ids:
        snap.bounds[group_id] = max((ecpm_micros(a) for a in snap.groups.get(group_id, ())), default=0)


def _bounded(ads: dict[str, AdEntry]) -> list[str]:
    # CTR only matters for cpc ads; keep the IN list to them so it stays small.
    return [a.ad_id for a in ads.values() if a.campaign.pricing_model == "cpc"][:20_000]
