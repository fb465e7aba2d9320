"""Idempotency records: claim a key, replay its stored response, or refuse a reuse.

Records never expire. A claim holds a lease; a claim whose lease ran out (its process died) can be taken
over by a retry, which then resumes the operation from its durable recovery points.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from threadline.kit.clock import Clock
from threadline.kit.errors import ApiError
from threadline.kit.ids import new_id
from threadline.store.db import Database
from threadline.store.models import IdempotencyRecord

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Claim:
    record_id: str
    replay: StoredResponse | None = None
    resumed: bool = False  # a retry took over a claim whose process died


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Same method, path and canonical JSON body give the same fingerprint."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = body
    h = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def validate_key(key: str) -> None:
    if not (1 <= len(key) <= MAX_KEY_LENGTH) or not key.isprintable() or not key.isascii():
        raise ApiError(
            400,
            "invalid_value",
            "Idempotency-Key must be 1-255 printable ASCII characters.",
            "Idempotency-Key",
        )


class IdempotencyStore:
    def __init__(self, db: Database, clock: Clock, lease_seconds: float) -> None:
        self.db = db
        self.clock = clock
        self.lease_seconds = lease_seconds

    def claim(self, scope: str, key: str, method: str, path: str, body: bytes) -> Claim:
        validate_key(key)
        fp = fingerprint(method, path, body)
        now = self.clock.now()
        record_id = new_id()
        try:
            with self.db.write() as s:
                s.add(
                    IdempotencyRecord(
                        id=record_id,
                        scope=scope,
                        key=key,
                        method=method.upper(),
                        path=path,
                        fingerprint=fp,
                        state="in_progress",
                        lease_expires_at=now + self.lease_seconds,
                        created_at=int(now),
                    )
                )
            return Claim(record_id)
        except IntegrityError:
            pass
        with self.db.write() as s:
            rec = s.execute(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
                )
            ).scalar_one_or_none()
            if rec is None:  # released between our insert and this read: the caller may retry
                raise _in_progress()
            if rec.fingerprint != fp:
                raise ApiError(
                    409,
                    "idempotency_key_reused",
                    "This Idempotency-Key was already used with a different request.",
                    "Idempotency-Key",
                )
            if rec.state == "done":
                return Claim(
                    rec.id,
                    StoredResponse(
                        rec.response_status or 200, rec.response_body or b"", rec.response_content_type or ""
                    ),
                )
            if rec.lease_expires_at > now:
                raise _in_progress()
            # The process that held this claim died: take it over atomically.
            taken = s.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.id == rec.id, IdempotencyRecord.lease_expires_at == rec.lease_expires_at
                )
                .values(lease_expires_at=now + self.lease_seconds)
            ).rowcount  # type: ignore[attr-defined]
            if not taken:
                raise _in_progress()
            return Claim(rec.id, resumed=True)

    def complete(self, record_id: str, status: int, body: bytes, content_type: str) -> None:
        with self.db.write() as s:
            s.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.id == record_id)
                .values(
                    state="done",
                    response_status=status,
                    response_body=body,
                    response_content_type=content_type,
                )
            )

    def release(self, record_id: str) -> None:
        """Forget a claim whose request failed with a 5xx, so a retry runs again."""
        with self.db.write() as s:
            s.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.id == record_id, IdempotencyRecord.state == "in_progress"
                )
            )


def _in_progress() -> ApiError:
    return ApiError(
        409,
        "idempotency_request_in_progress",
        "A request with this Idempotency-Key is still being processed. Retry later.",
        "Idempotency-Key",
        headers={"Retry-After": "1"},
    )
