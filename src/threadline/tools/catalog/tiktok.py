"""TikTok Ads tools (through the Marketing API adapter in tools/tiktok.py)."""

from __future__ import annotations

import secrets
import time
import weakref
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from threadline.context import AppContext
from threadline.tools import accounts
from threadline.tools.envelope import ToolError
from threadline.tools.registry import Args, Call, Tool, ToolResult
from threadline.tools.tiktok import TikTokClient, TikTokError, UploadedImage

MAX_IMAGE_BYTES = 10 * 1024 * 1024
FORMATS = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "webp": "webp"}


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme.lower() != "https"
        or not parts.hostname
        or parts.username is not None
        or any(c.isspace() for c in value)
    ):
        raise ValueError("must be an absolute public https:// URL with a host (TikTok downloads it)")
    return value


HttpsUrl = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_https_url)]


class UploadTikTokImagesArgs(Args):
    image_urls: list[HttpsUrl] = Field(
        min_length=1,
        max_length=20,
        description="List of public HTTPS image URLs to upload to TikTok (1-20). TikTok downloads images "
        "directly from these URLs. Supported formats: JPG, PNG, WEBP. Max 10MB per image.",
    )
    advertiser_id: str | None = Field(
        None, min_length=1, max_length=64, description="TikTok advertiser ID (optional)."
    )


# One client per running context (its settings), made on first use.
_CLIENTS: weakref.WeakKeyDictionary[AppContext, TikTokClient] = weakref.WeakKeyDictionary()


def _client(call: Call) -> TikTokClient:
    client = _CLIENTS.get(call.ctx)
    if client is None:
        client = _CLIENTS[call.ctx] = TikTokClient.from_settings(call.ctx.settings)
    return client


def _file_name(index: int, url: str, now: float) -> str:
    # TikTok refuses a file_name already used in the advertiser's library: time + random suffix.
    stem = urlsplit(url).path.rsplit("/", 1)[-1].rsplit(".", 1)[0][:40] or "image"
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now))
    return f"{stem}-{stamp}-{index + 1}-{secrets.token_hex(4)}"[:100]


def _check_uploaded(img: UploadedImage) -> str | None:
    fmt = (img.format or "").lower()
    if fmt and fmt not in FORMATS:
        return f"TikTok stored it as {fmt}; only JPG, PNG and WEBP are supported."
    if img.size is not None and img.size > MAX_IMAGE_BYTES:
        return f"The image is {img.size} bytes; the limit is 10 MB."
    return None


async def upload_tiktok_images(call: Call, args: UploadTikTokImagesArgs) -> ToolResult:
    assert call.account is not None
    advertiser_id = call.account.account_id
    token = accounts.access_token(call.ctx, call.account)
    client = _client(call)
    results: list[dict[str, Any]] = []
    for i, url in enumerate(args.image_urls):
        try:
            img = await client.upload_image_by_url(
                token, advertiser_id, url, _file_name(i, url, call.ctx.clock.now())
            )
        except TikTokError as exc:
            if exc.kind == "auth":
                raise ToolError(
                    400,
                    "upstream_auth_failed",
                    f"TikTok rejected the access token of advertiser {advertiser_id} ({exc.message}). "
                    "Reconnect the account with a fresh token.",
                    "advertiser_id",
                    structured_content={"results": results},
                ) from None
            if exc.kind == "rate_limited":
                retry = exc.retry_after or 60
                done = sum(1 for r in results if r["success"])
                raise ToolError(
                    429,
                    "upstream_rate_limited",
                    f"Upstream platform rate limit hit (TikTok: {exc.message}). Retry after {retry} seconds."
                    + (
                        f" {done} image(s) were uploaded before the limit; see structured_content."
                        if done
                        else ""
                    ),
                    structured_content={"results": results},
                    headers={"Retry-After": str(retry)},
                ) from None
            results.append(
                {"image_url": url, "success": False, "error": exc.message, "tiktok_code": exc.code}
            )
            continue
        problem = _check_uploaded(img)
        entry: dict[str, Any] = {
            "image_url": url,
            "success": problem is None,
            "image_id": img.image_id,
            "width": img.width,
            "height": img.height,
            "format": img.format,
            "size": img.size,
            "file_name": img.file_name,
        }
        if problem:
            entry["error"] = problem
        results.append(entry)
    ok = [r for r in results if r["success"]]
    failed = [r for r in results if not r["success"]]
    structured = {
        "advertiser_id": advertiser_id,
        "uploaded": len(ok),
        "failed": len(failed),
        "image_ids": [r["image_id"] for r in ok],
        "results": results,
    }
    if not ok:
        raise ToolError(
            400,
            "upstream_error",
            f"None of the {len(results)} image(s) could be uploaded to TikTok:\n"
            + "\n".join(f"- {r['image_url']}: {r['error']}" for r in failed),
            structured_content=structured,
        )
    lines = [f"Uploaded {len(ok)} of {len(results)} image(s) to TikTok advertiser {advertiser_id}:"]
    for r in results:
        if r["success"]:
            lines.append(
                f"- {r['image_url']} → image_id `{r['image_id']}` ({r['width']}x{r['height']} {r['format']})"
            )
        else:
            lines.append(f"- {r['image_url']} → failed: {r['error']}")
    lines.append(
        "Use the image_ids with create_tiktok_carousel_card, create_tiktok_campaign or add_tiktok_ad."
    )
    return ToolResult("\n".join(lines), structured)


TOOLS = [
    Tool(
        "upload_tiktok_images",
        "Upload images to TikTok Asset Library from public URLs. Returns TikTok image_ids that can be used "
        "for: - create_tiktok_carousel_card — build carousel cards from uploaded images - "
        "create_tiktok_campaign with existing_image_ids — standard image campaigns - add_tiktok_ad with "
        "image_ids — add image ads to existing ad groups TikTok downloads images directly from the provided "
        "URLs (no intermediate storage needed). Supported formats: JPG, PNG, WEBP. Max 10MB per image. Max "
        "20 images per call. Use this tool when the user provides image URLs and you need TikTok image IDs.",
        UploadTikTokImagesArgs,
        upload_tiktok_images,
        "tiktok_ads",
        platform="tiktok_ads",
    ),
]
