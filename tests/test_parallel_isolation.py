"""The suite runs on several xdist workers (`make test`): what keeps one worker's state from another's."""

from __future__ import annotations

import os

import pytest

from tests.conftest import redis_db_for_worker


def test_each_worker_gets_its_own_redis_database() -> None:
    assert redis_db_for_worker("redis://127.0.0.1:6379/0", "gw0") == "redis://127.0.0.1:6379/1"
    assert redis_db_for_worker("redis://127.0.0.1:6379/0", "gw1") == "redis://127.0.0.1:6379/2"
    assert redis_db_for_worker("redis://:pw@cache:6380", "gw2") == "redis://:pw@cache:6380/3"
    assert redis_db_for_worker("127.0.0.1:6379", "gw0") == "redis://127.0.0.1:6379/1"


def test_more_workers_than_redis_databases_is_refused() -> None:
    assert redis_db_for_worker("redis://h/0", "gw14") == "redis://h/15"
    with pytest.raises(pytest.UsageError, match="at most 15 workers"):
        redis_db_for_worker("redis://h/0", "gw15")


@pytest.mark.redis
def test_this_worker_uses_its_database() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ["THREADLINE_TEST_REDIS_URL"]
    if worker is None:
        pytest.skip("not under xdist: the suite's own Redis URL is used as given")
    assert url.endswith(f"/{int(worker.removeprefix('gw')) + 1}")
