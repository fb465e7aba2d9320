"""TikTok Marketing API v1.3 adapter: image upload by URL (``POST /file/image/ad/upload/``).

Every request goes out through the SSRF-safe fetcher's ``post_json`` (the configured base URL is held to
the same address policy as any fetched URL). TikTok answers HTTP 200 with an envelope
``{code, message, request_id, data}``; ``code: 0`` is success. Timeouts, 5xx and unreadable answers are
retried a bounded number of times; throttling and token errors are not (retrying cannot fix them).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from threadline.config import Settings
from threadline.kit.http_fetch import FetchError, FetchPolicy, post_json

UPLOAD_PATH = "/file/image/ad/upload/"
# TikTok's return codes (API for Business, "Appendix - Return codes"): throttling, and the token ones.
RATE_LIMIT_CODES = frozenset({40100, 40133, 40016})
AUTH_CODES = frozenset({40001, 40102, 40104, 40105, 40106})
# System errors on TikTok's side: worth a retry, like an HTTP 5xx.
RETRYABLE_CODES = frozenset({50000, 50002, 51021})
DEFAULT_RETRY_AFTER = 60


class TikTokError(Exception):
    """``kind``: rate_limited | auth | rejected (this request's input) | unavailable (after retries)."""

    def __init__(
        self, kind: str, message: str, code: int | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class UploadedImage:
    image_id: str
    width: int | None
    height: int | None
    format: str | None
    size: int | None
    file_name: str | None
    material_id: str | None


Sleep = Callable[[float], Awaitable[None]]


class TikTokClient:
    def __init__(
        self,
        base_url: str,
        policy: FetchPolicy,
        *,
        max_attempts: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> TikTokClient:
        policy = FetchPolicy(
            allow_private_hosts=frozenset(h.lower() for h in settings.allow_private_fetch_hosts),
            connect_timeout=min(settings.fetch_connect_timeout, settings.tiktok_timeout_seconds),
            total_timeout=settings.tiktok_timeout_seconds,
            max_bytes=1_048_576,
        )
        return cls(
            settings.tiktok_api_base,
            policy,
            max_attempts=settings.tiktok_max_attempts,
            backoff_seconds=settings.tiktok_retry_backoff_seconds,
        )

    async def upload_image_by_url(
        self, access_token: str, advertiser_id: str, image_url: str, file_name: str
    ) -> UploadedImage:
        def payload(attempt: int) -> bytes:
            # A failed attempt may still have stored the image under its name, and TikTok refuses a name
            # twice per advertiser: every retry sends a name of its own.
            name = file_name if attempt == 0 else f"{file_name[:96]}-r{attempt}"
            return json.dumps(
                {
                    "advertiser_id": advertiser_id,
                    "upload_type": "UPLOAD_BY_URL",
                    "image_url": image_url,
                    "file_name": name,
                }
            ).encode()

        data = await self._call(UPLOAD_PATH, payload, access_token)
        image_id = data.get("image_id")
        if not isinstance(image_id, str) or not image_id:
            raise TikTokError("unavailable", "TikTok answered success without an image_id.")
        return UploadedImage(
            image_id=image_id,
            width=_int(data.get("width")),
            height=_int(data.get("height")),
            format=data.get("format") if isinstance(data.get("format"), str) else None,
            size=_int(data.get("size")),
            file_name=data.get("file_name") if isinstance(data.get("file_name"), str) else None,
            material_id=str(data["material_id"]) if data.get("material_id") is not None else None,
        )

    async def _call(self, path: str, payload: Callable[[int], bytes], access_token: str) -> dict[str, Any]:
        last: TikTokError | None = None
        for attempt in range(self.max_attempts):
            if attempt:
                await self._sleep(self.backoff_seconds * (2 ** (attempt - 1)))
            try:
                return await self._once(path, payload(attempt), access_token)
            except TikTokError as exc:
                if exc.kind != "unavailable":
                    raise
                last = exc
        assert last is not None
        raise last

    async def _once(self, path: str, payload: bytes, access_token: str) -> dict[str, Any]:
        try:
            result = await post_json(
                self.base_url + path, self.policy, payload, [("Access-Token", access_token)]
            )
        except FetchError as exc:
            raise TikTokError("unavailable", f"TikTok could not be reached: {exc.message}") from None
        if result.status == 429:
            raise TikTokError("rate_limited", "TikTok answered HTTP 429.", None, DEFAULT_RETRY_AFTER)
        if result.status >= 500:
            raise TikTokError("unavailable", f"TikTok answered HTTP {result.status}.")
        try:
            envelope = json.loads(result.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise TikTokError("unavailable", "TikTok answered something that is not JSON.") from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("code"), int):
            raise TikTokError("unavailable", "TikTok answered JSON without its code envelope.")
        code: int = envelope["code"]
        message = str(envelope.get("message") or "")[:300]
        if code == 0:
            data = envelope.get("data")
            if not isinstance(data, dict):
                raise TikTokError("unavailable", "TikTok answered success without data.")
            return data
        if code in RATE_LIMIT_CODES:
            raise TikTokError("rate_limited", f"TikTok code {code}: {message}", code, DEFAULT_RETRY_AFTER)
        if code in AUTH_CODES:
            raise TikTokError("auth", f"TikTok code {code}: {message}", code)
        if code in RETRYABLE_CODES:
            raise TikTokError("unavailable", f"TikTok code {code}: {message}", code)
        if result.status >= 400:
            raise TikTokError(
                "rejected", f"TikTok answered HTTP {result.status}, code {code}: {message}", code
            )
        raise TikTokError("rejected", f"TikTok code {code}: {message}", code)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
