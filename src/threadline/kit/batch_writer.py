"""The batching writer: many concurrent requests, one transaction, each request told its own outcome.

Used by the events slice (tracked events) and serving (impressions, clicks, views, poll votes).
Handlers (in the event loop) call ``submit`` and await the returned future. One thread per process
drains the pending items: woken at the end of the loop iteration in which the first arrived (by then
every request read in that iteration has submitted), it waits ``max_wait_ms`` for more (unless
``max_rows`` are already there; 0 by default: while it commits, the next batch piles up), runs up to
``max_rows`` of them in one write transaction, and resolves the futures only after COMMIT, so an
acknowledged event is a committed event. If a batch fails, each item is retried alone so one bad row
cannot fail its neighbours; an item that still fails is answered with the owner's ``on_failure`` error
(a 503 the surface renders in its own shape), never left waiting.

``inline`` (SQLite, with ``max_wait_ms`` 0, since waiting for neighbours is the thread's job): the
wake-up first runs the batch in the event loop itself, taking the write lock only if it is free at
once. The sqlite3 driver gives up the GIL around every statement step and COMMIT, and a writer thread
then waits for the busy event loop to hand it back each time: under load a batch of a few rows took
several times its own cost. In the loop the same batch runs uncontended. When the lock is held
(another writer of this process or of another) or anything else goes wrong, nothing was written: the
batch goes back in front of the queue and the thread runs it as always (waiting for the lock,
retrying, item by item). While the thread runs it, the loop leaves new items queued (the thread holds
the lock); once done, the thread hands them back to the loop instead of draining them itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from threadline.kit.errors import ApiError
from threadline.store.db import Database

log = logging.getLogger("threadline.batch_writer")

T = TypeVar("T")
# A batch handler gets the items and returns one outcome per item (a value or an exception).
BatchHandler = Callable[[Session, Sequence[T]], Sequence[Any]]

_RETRIES = 3
_BACKSTOP = 0.25  # seconds


def unavailable(message: str = "The write could not be stored. Retry later.") -> ApiError:
    """The 503 an item gets when its batch could not be stored; owners pass their own wording."""
    return ApiError(503, "service_unavailable", message, headers={"Retry-After": "1"})


Write = Callable[[Session], Any]


def call_each(session: Session, writes: Sequence[Write]) -> list[Any]:
    """A BatchHandler for items that are their own work: each runs in the batch's transaction, in order.

    An ApiError an item raises is its outcome (its neighbours still commit), so an item must raise its
    ApiErrors before it writes anything; any other exception fails the batch (then items run alone).
    """
    outcomes: list[Any] = []
    for write in writes:
        try:
            outcomes.append(write(session))
        except ApiError as err:
            outcomes.append(err)
    return outcomes


@dataclass(slots=True)
class _Job(Generic[T]):
    item: T
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


class BatchWriter(Generic[T]):
    def __init__(
        self,
        db: Database,
        handler: BatchHandler[T],
        *,
        max_rows: int,
        max_wait_ms: float,
        on_failure: Callable[[], BaseException] = unavailable,
        name: str = "threadline-batch-writer",
        threads: int = 1,
        inline: bool = False,
    ) -> None:
        self.db = db
        self.handler = handler
        self.on_failure = on_failure
        self.name = name
        self.max_rows = max(1, max_rows)
        self.max_wait = max(0.0, max_wait_ms / 1000)
        # A deque plus one wake-up event, not a queue: under load the writer is busy and submit()
        # appends without any lock or thread wake-up; the writer takes everything pending at once.
        self._pending: deque[_Job[T]] = deque()
        self._wake = threading.Event()
        self._kicked: asyncio.AbstractEventLoop | None = None  # a loop with a wake-up scheduled
        self._stopping = False
        # More than one thread only where transactions can commit side by side (PostgreSQL): one
        # batch inserts while another waits for its COMMIT's WAL flush. Concurrent batches settle
        # repeats through the unique constraints, exactly as writers in two processes do.
        self.threads = max(1, threads)
        self.inline = inline
        self._thread_flushing = 0  # batches the threads are running now
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._take_lock = threading.Lock()
        self.batches = 0  # committed transactions (tests and metrics)
        self.rows = 0
        self.inline_batches = 0  # of those, run in the event loop

    # ---- event-loop side ----

    def submit(self, item: T) -> asyncio.Future[Any]:
        """Queue an item; the future resolves with its outcome after the batch commits."""
        if not self._threads:
            self.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Job(item, loop, future))
        if self._kicked is not loop:
            # Wake the writer once this loop iteration is through, not now: every request whose bytes
            # arrived in the same poll has submitted by then and joins the batch, and the writer does
            # not take the GIL from the loop in the middle of the iteration.
            self._kicked = loop
            loop.call_soon(self._kick)
        return future

    def _kick(self) -> None:
        self._kicked = None
        if self._runs_inline():
            if self._thread_flushing:
                return  # the thread holds the write lock; it hands what is pending back when done
            batch = self._take()
            if batch and not self._flush_inline(batch):
                with self._take_lock:  # back in front, in order: the thread takes it next
                    self._pending.extendleft(reversed(batch))
        if self._pending:
            self._wake.set()

    def _runs_inline(self) -> bool:
        return self.inline and not self.max_wait and not self._stopping

    def _flush_inline(self, batch: list[_Job[T]]) -> bool:
        """Run the batch in the loop if the write lock is free now; False (nothing written) if not."""
        try:
            with self.db.write(wait=False) as session:
                outcomes = self.handler(session, [job.item for job in batch])
        except Exception:  # the lock was held, or the batch failed: the thread's path deals with it
            return False
        with self._take_lock:
            self.batches += 1
            self.inline_batches += 1
            self.rows += len(batch)
        _resolve(batch, outcomes)
        return True

    # ---- lifecycle ----

    def start(self) -> None:
        with self._lock:
            if self._threads:
                return
            self._stopping = False
            self._threads = [
                threading.Thread(target=self._run, name=self.name, daemon=True) for _ in range(self.threads)
            ]
            for thread in self._threads:
                thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Flush everything queued so far, then end the threads."""
        with self._lock:
            threads = self._threads
            if not threads:
                return
            self._stopping = True
            self._wake.set()
            for thread in threads:
                thread.join(timeout)
            self._threads = []
            while batch := self._take():  # submitted while the threads were finishing
                self._flush(batch)

    # ---- writer thread ----

    def _run(self) -> None:
        while True:
            # The timeout is a backstop only: a loop closed before it ran its scheduled wake-up.
            self._wake.wait(_BACKSTOP)
            self._wake.clear()  # before taking items: a submit after this point sets it again
            pending = len(self._pending)
            if pending and self.max_wait and pending < self.max_rows and not self._stopping:
                time.sleep(self.max_wait)  # let concurrent requests join this transaction
            if self._runs_inline():
                # One batch, the one the loop could not run, then the rest back to the loop: a thread
                # that kept draining would keep every later batch off the loop under steady load, each
                # of them slower than inline (see the module docstring).
                if batch := self._take():
                    self._flush(batch)
                self._hand_back()
            else:
                while batch := self._take():
                    self._flush(batch)
            if self._stopping:
                return

    def _hand_back(self) -> None:
        """Wake the loop of the first pending item to run the pending items inline. (A loop that is
        gone leaves them to the thread: the backstop wakes it.)"""
        with self._take_lock:
            first = self._pending[0] if self._pending else None
        if first is not None:
            with contextlib.suppress(RuntimeError):  # a closed loop
                first.loop.call_soon_threadsafe(self._kick)

    def _take(self) -> list[_Job[T]]:
        with self._take_lock:  # another writer thread may be taking at the same moment
            pending = self._pending
            return [pending.popleft() for _ in range(min(self.max_rows, len(pending)))]

    def _flush(self, batch: list[_Job[T]]) -> None:
        items = [job.item for job in batch]
        with self._take_lock:
            self._thread_flushing += 1
        try:
            try:
                outcomes: Sequence[Any] = self._commit(items)
            except Exception:
                log.exception("%s: batch failed; storing its %d items one by one", self.name, len(batch))
                outcomes = (
                    [self._commit_one(item) for item in items] if len(items) > 1 else [self.on_failure()]
                )
        finally:
            with self._take_lock:
                self._thread_flushing -= 1
        _resolve(batch, outcomes)

    def _commit(self, items: list[T]) -> Sequence[Any]:
        for attempt in range(_RETRIES):
            try:
                with self.db.write() as session:
                    outcomes = self.handler(session, items)
                with self._take_lock:
                    self.batches += 1
                    self.rows += len(items)
                return outcomes
            except OperationalError:
                # Lock timeouts, deadlocks, serialization failures, dropped connections: try again.
                if attempt == _RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def _commit_one(self, item: T) -> Any:
        try:
            return self._commit([item])[0]
        except Exception:
            log.exception("%s: item could not be stored", self.name)
            return self.on_failure()


def _resolve(batch: list[_Job[Any]], outcomes: Sequence[Any]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for job, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(job.loop, []).append((job.future, outcome))
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, pairs in by_loop.items():
        if loop is running:  # an inline batch: its own loop, no wake-up needed
            _settle(pairs)
            continue
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_settle, pairs)  # one wake-up per loop per batch


def _settle(pairs: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, outcome in pairs:
        if future.done():  # the client went away; the row is stored regardless
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
