from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.events.helpers import EventOrg, make_event_org


@pytest.fixture
def eorg(app: FastAPI, client: TestClient) -> EventOrg:
    return make_event_org(app)
