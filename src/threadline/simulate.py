"""`threadline simulate`: realistic traffic through a running server, over real HTTP.

Each simulated conversation is a chat between a user and an assistant on some topic (some match the
demo campaign's hints, some do not). After each assistant turn the "publisher" asks for a bid; served
bids are sometimes viewed (pixel), clicked (the click URL, redirect not followed, click id read from
``Location``) and voted on (polls); some clicks convert, reported with the event key. Every random choice
of conversation ``i`` comes from its own generator seeded by ``(seed, i)``, so a run is reproducible
whatever the concurrency (up to what the server answers).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from threadline.surfaces import EVENTS_MOUNTS, SERVING_BID_PATH, TRACKING_CLICK, TRACKING_VIEW

BID_PATH = SERVING_BID_PATH
CONVERSION_PATH = f"{EVENTS_MOUNTS[0]}/conversion"
MAX_RATE_RETRIES = 5
ERROR_SAMPLES = 5
VIEW_RATE = 0.8  # share of served bids whose pixel fires (the ad scrolled into view)
ON_TOPIC_CLICK_RATE = 0.35
OFF_TOPIC_CLICK_RATE = 0.1
VOTE_RATE = 0.5
POLL_FORMAT_RATE = 0.25  # share of requests that also accept sponsored polls


@dataclass(frozen=True)
class Topic:
    name: str
    on_topic: bool  # whether the demo campaign's hints should match it
    turns: tuple[tuple[str, str], ...]  # (user, assistant) pairs, in order


TOPICS: tuple[Topic, ...] = (
    Topic(
        "running shoes",
        True,
        (
            (
                "I'm training for my first marathon, which running shoes should I buy?",
                "For marathon training look for cushioned running shoes with a light upper.",
            ),
            (
                "My current shoes have 600 miles on them, is that too many?",
                "Most running shoes lose their cushioning between 300 and 500 miles, so it is time.",
            ),
            (
                "Should I get the same model again or try something new?",
                "If they served you well, the newer version of the same running shoes is a safe bet.",
            ),
            (
                "What about shoes for race day specifically?",
                "Many runners keep a lighter pair of racing shoes just for race day.",
            ),
        ),
    ),
    Topic(
        "marathon training",
        True,
        (
            (
                "How many weeks do I need for marathon training?",
                "A typical marathon training plan lasts 16 to 20 weeks.",
            ),
            (
                "How long should my long run be at the peak?",
                "Most plans peak with a long run of 20 to 22 miles three weeks before race day.",
            ),
            (
                "I keep getting shin splints, any injury prevention tips?",
                "Increase mileage slowly, rest between hard days and check your running shoes.",
            ),
            (
                "What should I eat the night before race day?",
                "A familiar, carbohydrate-rich dinner; nothing new before the marathon.",
            ),
        ),
    ),
    Topic(
        "half marathon",
        True,
        (
            (
                "Can I run a half marathon in eight weeks?",
                "If you already run three times a week, eight weeks of half marathon training is enough.",
            ),
            (
                "What pace should my long run be?",
                "Run your long run about a minute per mile slower than your half marathon goal pace.",
            ),
            (
                "Do I need special running shoes for it?",
                "Comfortable, well-fitted running shoes you have already trained in are what matters.",
            ),
        ),
    ),
    Topic(
        "trail running",
        True,
        (
            (
                "I want to get into trail running, where do I start?",
                "Start with short, runnable trails and walk the steep climbs.",
            ),
            (
                "Are hiking boots fine for trail running?",
                "Hiking boots are heavy; trail running shoes grip better and weigh far less.",
            ),
            (
                "Is running in the rain on trails safe?",
                "Running in the rain is fine with grippy shoes; slow down on roots and rocks.",
            ),
            (
                "Could I build up to an ultramarathon?",
                "Many trail runners move up to an ultramarathon after a year of steady mileage.",
            ),
        ),
    ),
    Topic(
        "sourdough",
        False,
        (
            (
                "How do I bake sourdough bread at home?",
                "Start with an active starter, mix, fold a few times, then give it a long cold proof.",
            ),
            (
                "My loaf came out flat, what went wrong?",
                "A flat loaf usually means the dough over-proofed or the starter was weak.",
            ),
            (
                "How hot should the oven be?",
                "Bake in a preheated Dutch oven at about 250°C, lid on for the first 20 minutes.",
            ),
        ),
    ),
    Topic(
        "python debugging",
        False,
        (
            (
                "Why does my Python script say list index out of range?",
                "You are reading past the end of a list; check the loop bounds.",
            ),
            (
                "How do I find which line it happens on?",
                "Read the traceback from the bottom: the last frame names the file and line.",
            ),
            (
                "Can I step through it?",
                "Yes, put breakpoint() before the loop and use the debugger's next and print commands.",
            ),
        ),
    ),
    Topic(
        "travel in Japan",
        False,
        (
            (
                "What should I see on a week in Kyoto?",
                "Fushimi Inari early in the morning, the Arashiyama bamboo grove and Gion at dusk.",
            ),
            (
                "Is a rail pass worth it?",
                "Only if you travel between several cities; for Kyoto alone buses and trains are cheap.",
            ),
            (
                "What's the best season to go?",
                "Spring for the cherry blossoms or autumn for the leaves, both are busy.",
            ),
        ),
    ),
    Topic(
        "houseplants",
        False,
        (
            (
                "Why are the leaves of my monstera turning yellow?",
                "Usually overwatering: let the top few centimetres of soil dry out between waterings.",
            ),
            (
                "Does it need more light?",
                "Bright, indirect light keeps it growing; direct afternoon sun can scorch the leaves.",
            ),
        ),
    ),
)
ON_TOPIC = tuple(t for t in TOPICS if t.on_topic)
OFF_TOPIC = tuple(t for t in TOPICS if not t.on_topic)
ON_TOPIC_SHARE = 0.65

# (country, device, timezone) of simulated end users; None = the publisher sends no geo headers.
USERS: tuple[tuple[str, str, str] | None, ...] = (
    ("US", "mobile", "America/New_York"),
    ("US", "desktop", "America/Los_Angeles"),
    ("GB", "mobile", "Europe/London"),
    ("DE", "desktop", "Europe/Berlin"),
    ("CA", "mobile", "America/Toronto"),
    None,
)
USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15",
)


class SimulationError(Exception):
    """The run cannot go on (server unreachable, a key refused): one line for the user."""


@dataclass(frozen=True)
class SimConfig:
    base_url: str
    publisher_key: str
    event_key: str
    conversations: int
    seed: int
    conversion_rate: float = 0.3
    concurrency: int = 8
    timeout: float = 10.0


@dataclass
class SimReport:
    seed: int
    conversations: int = 0
    requests: int = 0  # every HTTP request sent, retries included
    bid_requests: int = 0
    bids: int = 0
    no_bids: dict[str, int] = field(default_factory=dict)  # reason -> count
    views: int = 0
    clicks: int = 0
    votes: int = 0
    conversions: int = 0
    duplicate_conversions: int = 0
    rate_limited: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "conversations": self.conversations,
            "requests": self.requests,
            "bid_requests": self.bid_requests,
            "bids": self.bids,
            "no_bids": sum(self.no_bids.values()),
            "no_bid_reasons": dict(sorted(self.no_bids.items())),
            "views": self.views,
            "clicks": self.clicks,
            "votes": self.votes,
            "conversions": self.conversions,
            "duplicate_conversions": self.duplicate_conversions,
            "rate_limited": self.rate_limited,
            "errors": self.errors,
            "error_samples": list(self.error_samples),
            "seconds": round(self.seconds, 3),
        }


def load_demo_keys(path: Path) -> dict[str, str]:
    """The plain keys `threadline demo` wrote, or a SimulationError saying how to get them."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        raise SimulationError(
            f"no demo keys in {path}: run `threadline demo` first, or pass --publisher-key and --event-key"
        ) from None
    if not isinstance(raw, dict):
        raise SimulationError(f"{path} is not a demo keys file")
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}


class _Run:
    """Shared state of one run: the HTTP client, the counters and the fatal-error stop switch."""

    def __init__(self, cfg: SimConfig, client: httpx.Client) -> None:
        self.cfg = cfg
        self.client = client
        self.report = SimReport(seed=cfg.seed)
        self.lock = threading.Lock()
        self.fatal: str | None = None
        self.stop = threading.Event()

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self.report, name, getattr(self.report, name) + n)

    def no_bid(self, reason: str) -> None:
        with self.lock:
            self.report.no_bids[reason] = self.report.no_bids.get(reason, 0) + 1

    def error(self, what: str) -> None:
        with self.lock:
            self.report.errors += 1
            samples = self.report.error_samples
            if len(samples) < ERROR_SAMPLES and what not in samples:
                self.report.error_samples.append(what)

    def abort(self, message: str) -> None:
        with self.lock:
            if self.fatal is None:
                self.fatal = message
        self.stop.set()

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        """One request, retried while the server says 429; None (and an error counted) on a failure."""
        for attempt in range(MAX_RATE_RETRIES + 1):
            self.count("requests")
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                self.error(f"{method} {_path(url)}: {type(exc).__name__}: {exc}")
                return None
            if response.status_code != 429 or attempt == MAX_RATE_RETRIES:
                return response
            self.count("rate_limited")
            time.sleep(_retry_delay(response))
        raise AssertionError("unreachable")


def _path(url: str) -> str:
    path = urlsplit(url).path
    # Tracking tokens are long and say nothing to a reader of the summary.
    return path[:5] + "…" if path.startswith((TRACKING_CLICK, TRACKING_VIEW)) else path


def _retry_delay(response: httpx.Response) -> float:
    for name in ("retry-after", "x-ratelimit-reset"):
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if seconds > 1_000_000_000:  # an absolute Unix time
            seconds -= time.time()
        return min(2.0, max(0.05, seconds))
    return 0.2


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def check_server(client: httpx.Client, base_url: str) -> None:
    try:
        response = client.get("/healthz")
    except httpx.HTTPError as exc:
        raise SimulationError(f"cannot reach the server at {base_url}: {exc}") from None
    if response.status_code != 200:
        raise SimulationError(
            f"the server at {base_url} is not healthy (GET /healthz: {response.status_code})"
        )


def run(cfg: SimConfig, on_conversation: Callable[[], None] | None = None) -> SimReport:
    """Drive ``cfg.conversations`` conversations; raises SimulationError when the run cannot go on."""
    started = time.monotonic()
    limits = httpx.Limits(max_connections=cfg.concurrency * 2, max_keepalive_connections=cfg.concurrency * 2)
    with httpx.Client(base_url=cfg.base_url, timeout=cfg.timeout, limits=limits) as client:
        check_server(client, cfg.base_url)
        state = _Run(cfg, client)

        def one(index: int) -> None:
            if state.stop.is_set():
                return
            try:
                _conversation(state, index)
            except Exception as exc:  # an answer of an unexpected shape: count it, keep going
                state.error(f"conversation {index}: {type(exc).__name__}: {exc}")
            finally:
                state.count("conversations")
                if on_conversation is not None:
                    on_conversation()

        with ThreadPoolExecutor(max_workers=cfg.concurrency, thread_name_prefix="simulate") as pool:
            for future in [pool.submit(one, i) for i in range(cfg.conversations)]:
                future.result()
    state.report.seconds = time.monotonic() - started
    if state.fatal is not None:
        raise SimulationError(state.fatal)
    return state.report


# -- one conversation ------------------------------------------------------------------------------


def _conversation(state: _Run, index: int) -> None:
    cfg = state.cfg
    rng = random.Random(f"{cfg.seed}:{index}")
    topic = rng.choice(ON_TOPIC if rng.random() < ON_TOPIC_SHARE else OFF_TOPIC)
    user = rng.choice(USERS)
    headers = {
        "thrad-api-key": cfg.publisher_key,
        "User-Agent": rng.choice(USER_AGENTS),
        "X-Forwarded-For": f"203.0.113.{rng.randint(1, 254)}",
    }
    if user is not None:
        country, device, tz = user
        headers.update({"X-User-Country": country, "X-User-Device": device, "X-User-Timezone": tz})
    user_id = f"sim-user-{cfg.seed}-{rng.randint(1, max(1, cfg.conversations // 3))}"
    chat_id = f"sim-chat-{cfg.seed}-{index}"
    turns = rng.randint(min(2, len(topic.turns)), len(topic.turns))
    messages: list[dict[str, str]] = []
    for turn in range(turns):
        if state.stop.is_set():
            return
        question, answer = topic.turns[turn]
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        formats = ["sponsored_message", "sponsored_poll"] if rng.random() < POLL_FORMAT_RATE else None
        body: dict[str, Any] = {
            "userId": user_id,
            "chatId": chat_id,
            "messages": list(messages),
            "turn_number": turn + 1,
            "production": True,
        }
        if formats:
            body["ad_formats"] = formats
        bid = _bid(state, headers, body)
        if bid is not None:
            _engage(state, rng, topic, bid, f"sim-{cfg.seed}-{index}-{turn}")


def _bid(state: _Run, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any] | None:
    state.count("bid_requests")
    response = state.send("POST", BID_PATH, headers=headers, json=body)
    if response is None:
        return None
    if response.status_code == 401:
        state.abort(f"the server refused the publisher key (401 on POST {BID_PATH})")
        return None
    if response.status_code != 200:
        state.error(f"POST {BID_PATH}: {response.status_code} {response.text[:200]}")
        return None
    data = _json(response).get("data")
    data = data if isinstance(data, dict) else {}
    bid = data.get("bid")
    if not isinstance(bid, dict):
        state.no_bid(str(data.get("reason") or "unknown"))
        return None
    state.count("bids")
    return bid


def _engage(state: _Run, rng: random.Random, topic: Topic, bid: dict[str, Any], order_id: str) -> None:
    """What the end user does with a served ad: see it, maybe vote, maybe click, maybe buy."""
    # Draw every choice up front so one conversation's choices never depend on the server's answers.
    viewed = rng.random() < VIEW_RATE
    votes = rng.random() < VOTE_RATE
    option_pick = rng.random()
    clicks = rng.random() < (ON_TOPIC_CLICK_RATE if topic.on_topic else OFF_TOPIC_CLICK_RATE)
    converts = rng.random() < state.cfg.conversion_rate
    value = round(rng.uniform(19.0, 189.0), 2)
    if viewed and bid.get("view_url"):
        _view(state, str(bid["view_url"]))
    poll = bid.get("poll")
    if votes and isinstance(poll, dict) and poll.get("options"):
        options = poll["options"]
        _vote(state, str(poll["vote_url"]), str(options[int(option_pick * len(options))]["id"]))
    if clicks and bid.get("url"):
        click_id = _click(state, str(bid["url"]))
        if click_id is not None and converts:
            _convert(state, click_id, value, order_id)


def _view(state: _Run, url: str) -> None:
    response = state.send("GET", url)
    if response is None:
        return
    if response.status_code in (200, 204):
        state.count("views")
    else:
        state.error(f"GET {_path(url)}: {response.status_code}")


def _vote(state: _Run, vote_url: str, option_id: str) -> None:
    parts = urlsplit(vote_url)
    token = (parse_qs(parts.query).get("token") or [""])[0]
    response = state.send(
        "POST", parts._replace(query="").geturl(), json={"token": token, "option_id": option_id}
    )
    if response is None:
        return
    if response.status_code == 200:
        state.count("votes")
    else:
        state.error(f"POST {parts.path}: {response.status_code} {response.text[:200]}")


def _click(state: _Run, url: str) -> str | None:
    response = state.send("GET", url, follow_redirects=False)
    if response is None:
        return None
    location = str(response.headers.get("location", ""))
    click_id = next(iter(parse_qs(urlsplit(location).query).get("thrad_click_id", [])), None)
    if response.status_code != 302 or not click_id:
        state.error(f"GET {_path(url)}: {response.status_code}, no thrad_click_id in Location")
        return None
    state.count("clicks")
    return click_id


def _convert(state: _Run, click_id: str, value: float, order_id: str) -> None:
    body = {
        "click_id": click_id,
        "conversion_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "conversion_value": value,
        "currency": "USD",
        "event_type": "purchase_completed",
        "order_id": order_id,
    }
    headers = {"Authorization": f"Bearer {state.cfg.event_key}"}
    response = state.send("POST", CONVERSION_PATH, headers=headers, json=body)
    if response is None:
        return
    if response.status_code == 401:
        state.abort(f"the server refused the event key (401 on POST {CONVERSION_PATH})")
        return
    status = _json(response).get("status") if response.status_code == 200 else None
    if status == "ok":
        state.count("conversions")
    elif status == "duplicate":
        state.count("duplicate_conversions")
    else:
        state.error(f"POST {CONVERSION_PATH}: {response.status_code} {response.text[:200]}")
