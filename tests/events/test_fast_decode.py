"""The one-pass collect decode (CollectFast) accepts only what CollectIn accepts, with the same values."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import ValidationError

from threadline.events.ingress import fast_collect, parse_object
from threadline.events.schemas import MAX_NESTING, CollectFast, CollectIn
from threadline.kit.errors import ApiError

NOW = int(time.time())


def test_the_struct_has_the_model_fields() -> None:
    assert list(CollectFast.__struct_fields__) == list(CollectIn.model_fields)


def _deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


BODIES = [
    b'{"event_name":"page_view","tag_id":"t","event_id":"e-1","params":{"step":"shipping"}}',
    b'{"event_name":"x","timestamp":1700000000,"view_time_ms":0,"attribution_type":"view"}',
    b'{"event_name":"x","impression_state":"in_view","consent":{"ads":true},"page_url":null}',
    '{"event_name":"\u00e9\u00e9","params":{"k":[1,2.5,null,"\u2028"]}}'.encode(),
    b'{"event_name":"x","event_name":"y"}',  # the last one wins, as in json.loads
    b'  {"event_name":"x"}\n',
    # refused by one or both: each must fall back (and CollectIn gives the documented answer)
    b'{"event_name":"x","note":"extra fields are kept by the model"}',
    b'{"event_name":""}',
    b'{"event_name":"' + b"n" * 129 + b'"}',
    b'{"event_name":"x","tag_id":"' + b"t" * 2049 + b'"}',
    b'{"event_name":"x","timestamp":1.0}',
    b'{"event_name":"x","timestamp":true}',
    b'{"event_name":"x","timestamp":946684799}',
    f'{{"event_name":"x","timestamp":{NOW + 3601}}}'.encode(),
    f'{{"event_name":"x","timestamp":{NOW + 3600}}}'.encode(),
    b'{"event_name":"x","timestamp":9223372036854775808}',
    b'{"event_name":"x","view_time_ms":-1}',
    b'{"event_name":"x","attribution_type":"other"}',
    b'{"event_name":"x","params":[]}',
    b'{"event_name":"x","params":{"a":"nul\\u0000"}}',
    b'{"event_name":"nul\\u0000"}',
    b'{"event_name":"x","params":{"a":"\\ud800"}}',
    b'{"event_name":"x","params":{"a":NaN}}',
    b'{"event_name":"x","params":{"a":1e999}}',
    b'{"event_name":"x","params":{"a":' + b"9" * 4301 + b"}}",
    b'{"event_name":"x","params":{"a":' + b"9" * 4300 + b"}}",
    b'{"event_name":"\xff"}',
    b'\xef\xbb\xbf{"event_name":"x"}',
    '{"event_name":"x"}'.encode("utf-16"),
    b'{"event_name":"x"} []',
    b'{"event_name":"x","params":' + _deep(MAX_NESTING - 1).encode() + b"}",
    b'{"event_name":"x","params":' + _deep(MAX_NESTING).encode() + b"}",
    b"[]",
    b"",
]


def _slow(body: bytes) -> CollectIn | None:
    try:
        return CollectIn.model_validate(parse_object(body), context={"now": NOW})
    except (ApiError, ValidationError):
        return None


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_fast_path_agrees_with_the_model(body: bytes) -> None:
    fast = fast_collect(body, NOW)
    if fast is None:
        return  # CollectIn answers (the route tests pin those answers)
    slow = _slow(body)
    assert slow is not None, "the fast path accepted a body the model refuses"
    assert not slow.model_extra
    for name in CollectIn.model_fields:
        assert json.dumps(getattr(fast, name)) == json.dumps(getattr(slow, name)), name


def test_the_common_body_takes_the_fast_path() -> None:
    assert fast_collect(BODIES[0], NOW) is not None
