"""Small named values the server keeps about itself (the `server_secrets` table): the generated admin
token's hash, the demo's record of which rows are the demo."""

from __future__ import annotations

from threadline.context import AppContext
from threadline.operator import repository


def read(ctx: AppContext, name: str) -> str | None:
    with ctx.db.read() as s:
        return repository.server_value(s, name)


def write(ctx: AppContext, name: str, value: str) -> None:
    with ctx.db.write() as s:
        repository.put_server_value(s, name, value, ctx.clock.now_s())
