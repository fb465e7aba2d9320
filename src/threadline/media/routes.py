"""POST /v1/upload and GET /media/<file_id>."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from threadline.app_deps import Ctx
from threadline.auth.deps import OrgId
from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.kit.schemas import error_responses
from threadline.media import service
from threadline.media.images import MAX_UPLOAD_BYTES
from threadline.media.multipart import MalformedMultipart, read_multipart
from threadline.routing import mount

router = APIRouter(tags=["uploads"])
media_router = APIRouter(tags=["media"])

# uploads/: advertiser uploads; threads/: renditions of Threads containers (publishing/jobs.py).
FILE_ID = re.compile(r"^(?:uploads|threads)/\d{4}/\d{2}/([0-9a-f]{32})\.(png|jpg|webp|mp4|mov)$")
CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
}
MAX_JSON_BYTES = 16_384


class UploadOut(BaseModel):
    file_id: str


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"image_url": {"type": "string", "maxLength": 4096}},
                    "required": ["image_url"],
                    "additionalProperties": False,
                }
            },
        },
    }
}


def _neither() -> ApiError:
    return ApiError(400, "invalid_value", "Send a multipart `file` part or a JSON `image_url`.", None)


@router.post(
    "/v1/upload",
    status_code=201,
    response_model=UploadOut,
    responses=error_responses(400, 401, 409, 429),
    openapi_extra=_UPLOAD_BODY,
)
async def upload(request: Request, ctx: Ctx, org_id: OrgId) -> JSONResponse:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        try:
            form = await read_multipart(content_type, request.stream(), MAX_UPLOAD_BYTES)
        except MalformedMultipart as exc:
            raise ApiError(400, "invalid_value", f"Malformed multipart body: {exc}.", None) from None
        if form.file_too_large:
            raise ApiError(400, "file_too_large", "The image exceeds the 5 MB limit.", "file")
        extra = sorted(set(form.fields) - {"image_url"})
        if extra:
            raise ApiError(400, "unknown_param", f"Unknown parameter: {extra[0]}.", extra[0])
        if form.file is not None and "image_url" in form.fields:
            raise ApiError(400, "invalid_value", "Send either a file or an image_url, not both.", None)
        if form.file is not None:
            data = form.file
        elif "image_url" in form.fields:
            data = await _fetch(ctx, form.fields["image_url"])
        else:
            raise _neither()
    elif media_type in ("application/json", ""):
        body = await _read_small(request)
        if not body.strip():
            raise _neither()
        data = await _fetch(ctx, _image_url_from_json(body))
    else:
        raise _neither()
    # Decoding is CPU-bound and allocates the whole pixel buffer: run as many at once as there are
    # cores, so 16 concurrent 5 MB uploads do not hold 16 decoded images in memory at once.
    async with _decode_slots(ctx):
        file_id = await anyio.to_thread.run_sync(service.store_image, ctx, org_id, data)
    return JSONResponse({"file_id": file_id}, status_code=201)


async def _read_small(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JSON_BYTES:
            raise ApiError(413, "request_too_large", "The request body is too large.")
        chunks.append(chunk)
    return b"".join(chunks)


def _image_url_from_json(body: bytes) -> str:
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.", None) from None
    if not isinstance(obj, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.", None)
    for name in obj:
        if name != "image_url":
            raise ApiError(400, "unknown_param", f"Unknown parameter: {name}.", str(name)[:200])
    if "image_url" not in obj:
        raise _neither()
    url = obj["image_url"]
    if not isinstance(url, str) or not url.strip():
        raise ApiError(400, "invalid_image_url", "image_url must be an absolute http(s) URL.", "image_url")
    return url


async def _fetch(ctx: AppContext, url: str) -> bytes:
    if not url.strip():
        raise ApiError(400, "invalid_image_url", "image_url must be an absolute http(s) URL.", "image_url")
    return await service.fetch_image_bytes(ctx, url)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range of a ``Range: bytes=a-b`` header within ``size``; None to send everything.

    A header we do not understand (several ranges, other units) is ignored, as RFC 9110 allows;
    an unsatisfiable one raises ``ValueError``.
    """
    found = _RANGE.match(header.strip()) if header else None
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first, last = found.group(1), found.group(2)
    if first == "":  # the last N bytes
        start, end = max(0, size - int(last[:19])), size - 1
    else:
        start = int(first[:19])
        end = min(int(last[:19]), size - 1) if last else size - 1
    if start >= size or start > end:
        raise ValueError("unsatisfiable range")
    return start, end


@media_router.get(
    "/media/{file_id:path}",
    responses={200: {"content": {"image/png": {}}}, 206: {}, 304: {}, 404: {}, 416: {}},
)
def get_media(file_id: str, request: Request, ctx: Ctx) -> Response:
    match = FILE_ID.match(file_id)
    storage = service.storage_of(ctx)
    size = storage.size(file_id) if match else None
    if match is None or size is None:
        raise ApiError(404, "not_found", "No such file.")
    # File ids are random and content never changes, so the id's hex part is a strong validator.
    etag = f'"{match.group(1)}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=31536000, immutable", "Accept-Ranges": "bytes"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    try:
        wanted = _byte_range(request.headers.get("range"), size) if size else None
    except ValueError:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = wanted if wanted is not None else (0, size - 1)
    headers["Content-Length"] = str(end - start + 1)
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    # Streamed from the storage in bounded chunks: a 1 GB video rendition is never read into memory.
    body = storage.read_range(file_id, start, end) if size else iter(())
    return StreamingResponse(
        body,
        status_code=206 if wanted is not None else 200,
        media_type=CONTENT_TYPES[match.group(2)],
        headers=headers,
    )


def _decode_slots(ctx: AppContext) -> anyio.CapacityLimiter:
    limiter = ctx.image_decode_slots
    if limiter is None:
        limiter = anyio.CapacityLimiter(max(1, os.cpu_count() or 1))
        ctx.image_decode_slots = limiter
    return limiter


def install(app: FastAPI, ctx: AppContext) -> None:
    mount(app, router, media_router)
