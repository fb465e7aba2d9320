"""Stream a multipart/form-data body, keeping at most ``max_file_bytes + 1`` bytes of the file part."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELD_BYTES = 8192
MAX_PARTS = 8


class MalformedMultipart(Exception):
    pass


@dataclass
class MultipartForm:
    file: bytes | None = None
    file_too_large: bool = False
    fields: dict[str, str] = field(default_factory=dict)


async def read_multipart(
    content_type: str, chunks: AsyncIterator[bytes], max_file_bytes: int
) -> MultipartForm:
    """Parse the body; stops reading as soon as the file part exceeds ``max_file_bytes``."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise MalformedMultipart("multipart body without a boundary")

    form = MultipartForm()
    state: dict[str, object] = {"name": None, "field": b"", "value": b"", "parts": 0}
    headers: dict[bytes, bytes] = {}
    buf: list[bytes] = []
    size = [0]

    def on_part_begin() -> None:
        headers.clear()
        buf.clear()
        size[0] = 0
        state["parts"] = int(state["parts"]) + 1  # type: ignore[call-overload]

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] = bytes(state["field"]) + data[start:end]  # type: ignore[call-overload]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] = bytes(state["value"]) + data[start:end]  # type: ignore[call-overload]

    def on_header_end() -> None:
        headers[bytes(state["field"]).lower()] = bytes(state["value"])  # type: ignore[call-overload]
        state["field"] = b""
        state["value"] = b""

    def on_headers_finished() -> None:
        _, disp = parse_options_header(headers.get(b"content-disposition", b""))
        state["name"] = disp.get(b"name", b"").decode("utf-8", "replace")
        state["is_file"] = b"filename" in disp

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if form.file_too_large:
            return
        size[0] += end - start
        limit = max_file_bytes if state["name"] == "file" else MAX_FIELD_BYTES
        if size[0] > limit:
            if state["name"] == "file":
                form.file_too_large = True
                buf.clear()
                return
            raise MalformedMultipart(f"form field {state['name']!r} is too large")
        buf.append(data[start:end])

    def on_part_end() -> None:
        name = str(state["name"] or "")
        if name == "file":
            if not form.file_too_large:
                form.file = b"".join(buf)
        elif name:
            form.fields[name] = b"".join(buf).decode("utf-8", "replace")
        buf.clear()

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )
    try:
        async for chunk in chunks:
            parser.write(chunk)
            if form.file_too_large:
                return form  # stop reading: the rest of the body is never buffered
            if int(state["parts"]) > MAX_PARTS:  # type: ignore[call-overload]
                raise MalformedMultipart("too many form parts")
        parser.finalize()
    except MultipartParseError as exc:
        raise MalformedMultipart(str(exc)) from None
    return form
