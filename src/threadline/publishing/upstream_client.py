"""Our outbound Threads client: the Graph calls a mirror needs, against graph.threads.net or any server
speaking the same protocol (another Threadline), through the SSRF-safe fetcher.

Errors come back as :class:`UpstreamError` with Graph's code/subcode and whether trying again can help:
24/4279009 and 24/4279004 (not ready), ``is_transient``, throttling codes, HTTP 5xx and transport
failures are transient; token problems (190) and rule violations are not.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from threadline.config import Settings
from threadline.kit.http_fetch import INVALID_URL, FetchError, FetchPolicy
from threadline.publishing import outbound_http

TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 368, 613})
NOT_READY = (24, frozenset({4279009, 4279004}))
_VERSION_SUFFIX = re.compile(r"/v[0-9]+\.[0-9]+/?$")


class UpstreamError(Exception):
    def __init__(
        self, message: str, *, code: int | None = None, subcode: int | None = None, transient: bool
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.transient = transient

    @property
    def not_ready(self) -> bool:
        return self.code == NOT_READY[0] and self.subcode in NOT_READY[1]

    @property
    def token_problem(self) -> bool:
        return self.code == 190

    @property
    def unknown_object(self) -> bool:
        return self.code == 100 and self.subcode == 33


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int


class ThreadsUpstream:
    def __init__(self, base_url: str, access_token: str, policy: FetchPolicy) -> None:
        self.base_url = base_url.rstrip("/")
        # The token endpoints live at the host's root (graph.threads.net/refresh_access_token).
        self.root_url = _VERSION_SUFFIX.sub("", self.base_url)
        self.access_token = access_token
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Settings, base_url: str, access_token: str) -> ThreadsUpstream:
        policy = outbound_http.policy(settings, timeout=settings.mirror_timeout_seconds, subject="base_url")
        return cls(base_url, access_token, policy)

    def _call(self, method: str, url: str, form: dict[str, str] | None = None) -> dict[str, Any]:
        headers = [("Authorization", f"Bearer {self.access_token}")]
        payload = json.dumps(form).encode() if form is not None else None
        try:
            result = outbound_http.request(method, url, self.policy, payload, headers)
        except FetchError as exc:
            # A refused URL (not http(s), a private address) stays refused; a failed connection may pass.
            transient = exc.code != INVALID_URL
            raise UpstreamError(f"upstream unreachable: {exc.message}", transient=transient) from None
        try:
            body = json.loads(result.body) if result.body else {}
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        if 200 <= result.status < 300 and isinstance(body, dict):
            return body
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            code = err.get("code") if isinstance(err.get("code"), int) else None
            sub = err.get("error_subcode") if isinstance(err.get("error_subcode"), int) else None
            message = str(err.get("message") or "")[:300]
            transient = bool(err.get("is_transient")) or code in TRANSIENT_CODES or result.status >= 500
            if code == NOT_READY[0] and sub in NOT_READY[1]:
                transient = True
            raise UpstreamError(
                f"upstream error {code}/{sub}: {message}", code=code, subcode=sub, transient=transient
            )
        if isinstance(body, dict) and isinstance(body.get("error_message"), str):  # OAuth endpoint shape
            raise UpstreamError(
                f"upstream OAuth error: {body['error_message'][:300]}", code=190, transient=False
            )
        raise UpstreamError(
            f"upstream answered HTTP {result.status} without a Graph error",
            transient=result.status >= 500 or result.status == 429,
        )

    def create_container(self, user_id: str, params: dict[str, str]) -> str:
        out = self._call("POST", f"{self.base_url}/{user_id}/threads", params)
        return _id(out)

    def container_status(self, container_id: str) -> tuple[str, str | None]:
        out = self._call("GET", f"{self.base_url}/{container_id}?fields=id,status,error_message")
        return str(out.get("status") or ""), out.get("error_message")

    def publish(self, user_id: str, container_id: str) -> str:
        return _id(
            self._call("POST", f"{self.base_url}/{user_id}/threads_publish", {"creation_id": container_id})
        )

    def repost(self, media_id: str) -> str:
        return _id(self._call("POST", f"{self.base_url}/{media_id}/repost", {}))

    def delete(self, media_id: str) -> None:
        self._call("DELETE", f"{self.base_url}/{media_id}")

    def refresh_token(self) -> TokenGrant:
        query = urlencode({"grant_type": "th_refresh_token", "access_token": self.access_token})
        out = self._call("GET", f"{self.root_url}/refresh_access_token?{query}")
        token, expires_in = out.get("access_token"), out.get("expires_in")
        if not isinstance(token, str) or not isinstance(expires_in, int):
            raise UpstreamError("upstream refresh answered without access_token/expires_in", transient=True)
        return TokenGrant(token, expires_in)


def _id(out: dict[str, Any]) -> str:
    value = out.get("id")
    if not isinstance(value, str | int) or not str(value):
        raise UpstreamError("upstream answered success without an id", transient=True)
    return str(value)
