from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.publishing.helpers import create_text, get, make_profile, publish


def test_text_post_round_trip(app: FastAPI, client: TestClient) -> None:
    p = make_profile(app)
    cid = create_text(client, p, "Hello #Threads https://example.com/a")
    r = get(client, cid, p.token, fields="id,status")
    assert r.json() == {"id": cid, "status": "FINISHED"}
    r = publish(client, p, cid)
    assert r.status_code == 200, r.text
    mid = r.json()["id"]
    assert mid != cid
    r = get(
        client, mid, p.token, fields="id,text,topic_tag,link_attachment_url,media_type,permalink,timestamp"
    )
    body = r.json()
    assert body["topic_tag"] == "Threads"
    assert body["link_attachment_url"] == "https://example.com/a"
    assert body["media_type"] == "TEXT_POST"
    page = client.get(body["permalink"].replace("http://127.0.0.1:8000", ""))
    assert page.status_code == 200
    assert 'property="og:title"' in page.text
    r = get(client, "me/threads", p.token, fields="id,text")
    assert r.json()["data"] == [{"id": mid, "text": "Hello #Threads https://example.com/a"}]
