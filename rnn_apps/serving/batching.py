"""Dynamic batching: concurrent requests for one model answered by one model call.

TF Serving gathers requests server-side (``max_batch_size``, ``batch_timeout_micros``);
this does the same for any predictor with ``predict(rows, **options) -> results`` (a run
or a TFLite export). Requests wait in a bounded queue; one worker per model takes the
oldest, then gathers more with the same options until ``max_batch_size`` rows or
``timeout_ms`` have passed, runs them as one batch in a thread and hands every request
its own rows back. Recurrent models pad a batch to its longest input and mask the
padding, so each request gets what it would alone (a test holds it to that).

Limits keep memory bounded: a full queue refuses a request at once (``QueueFull``, HTTP
429); a request still waiting after ``deadline_s`` is dropped (``DeadlineExceeded``, 503).
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Callable


class QueueFull(Exception):
    """The model's queue holds ``max_queue`` requests already."""


class DeadlineExceeded(Exception):
    """A request waited or ran longer than the deadline."""


@dataclasses.dataclass
class _Request:
    rows: list
    options: dict
    key: str                      # requests with equal keys (the same options) may share a batch
    future: asyncio.Future
    enqueued: float


@dataclasses.dataclass(frozen=True)
class BatchSettings:
    """``max_batch_size`` rows per model call (1: no batching), ``timeout_ms`` to wait for
    more requests, ``max_queue`` waiting requests per model, ``deadline_s`` per request."""

    max_batch_size: int = 32
    timeout_ms: float = 5.0
    max_queue: int = 256
    deadline_s: float = 30.0


class Batcher:
    """One model's queue and batching worker. ``run_batch(rows, options) -> results`` is
    called in a worker thread, one batch at a time; ``on_batch(size)`` is told each batch's
    number of rows (for metrics)."""

    def __init__(self, run_batch: Callable[[list, dict], list], settings: BatchSettings,
                 on_batch: Callable[[int], None] = lambda size: None):
        self.run_batch, self.settings, self.on_batch = run_batch, settings, on_batch
        self.queue: asyncio.Queue | None = None
        self.pending: list[_Request] = []  # taken from the queue but waiting for a batch of their options
        self.worker: asyncio.Task | None = None

    @property
    def depth(self) -> int:
        """Requests waiting (queued or set aside for a later batch)."""
        return (self.queue.qsize() if self.queue else 0) + len(self.pending)

    def start(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.settings.max_queue)
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        if self.worker:
            self.worker.cancel()
            try:
                await self.worker
            except asyncio.CancelledError:
                pass

    async def submit(self, rows: list, options: dict) -> list:
        """This request's results, once its batch has run; ``QueueFull`` at once when the
        queue is full, ``DeadlineExceeded`` after ``deadline_s``."""
        if self.queue is None:
            self.start()
        if self.depth >= self.settings.max_queue:
            raise QueueFull()
        future = asyncio.get_running_loop().create_future()
        request = _Request(rows, options, json.dumps(options, sort_keys=True, default=str), future, time.monotonic())
        self.queue.put_nowait(request)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.settings.deadline_s)
        except asyncio.TimeoutError:
            future.cancel()  # the worker skips it if it has not started
            raise DeadlineExceeded() from None

    async def _next(self, timeout: float | None) -> _Request | None:
        if self.pending and timeout is None:
            return self.pending.pop(0)
        try:  # what is queued already joins at once: awaiting each one took a turn of the loop, and
            return self.queue.get_nowait()  # the window closed on 8 of 32 rows while more waited
        except asyncio.QueueEmpty:
            pass
        try:
            return await (self.queue.get() if timeout is None else asyncio.wait_for(self.queue.get(), timeout))
        except asyncio.TimeoutError:
            return None

    async def _gather(self) -> list[_Request]:
        """The oldest request and the ones with its options that arrive within the timeout,
        up to ``max_batch_size`` rows; others wait for the next batch."""
        first = await self._next(None)
        batch, rows = [first], len(first.rows)
        ends = time.monotonic() + self.settings.timeout_ms / 1000
        later = [r for r in self.pending if r.key != first.key]
        same = [r for r in self.pending if r.key == first.key]
        self.pending = later
        for request in same:
            if rows + len(request.rows) > self.settings.max_batch_size:
                self.pending.insert(0, request)
                continue
            batch.append(request)
            rows += len(request.rows)
        while rows < self.settings.max_batch_size:
            left = ends - time.monotonic()
            if left <= 0:
                break
            request = await self._next(left)
            if request is None:
                break
            if request.key != first.key or rows + len(request.rows) > self.settings.max_batch_size:
                self.pending.append(request)
                continue
            batch.append(request)
            rows += len(request.rows)
        return batch

    async def _work(self) -> None:
        while True:
            batch = await self._gather()
            now = time.monotonic()
            live = [r for r in batch if not r.future.done() and now - r.enqueued < self.settings.deadline_s]
            for request in batch:
                if request not in live and not request.future.done():
                    request.future.set_exception(DeadlineExceeded())
            if not live:
                continue
            rows = [row for request in live for row in request.rows]
            self.on_batch(len(rows))
            try:
                results = await asyncio.to_thread(self.run_batch, rows, live[0].options)
            except Exception as exc:
                if len(live) == 1:
                    self._answer(live[0], error=exc)
                else:  # one request's bad row must not fail the others: run each alone
                    for request in live:
                        try:
                            self._answer(request, await asyncio.to_thread(self.run_batch, request.rows,
                                                                          request.options))
                        except Exception as alone:
                            self._answer(request, error=alone)
                continue
            start = 0
            for request in live:
                self._answer(request, results[start:start + len(request.rows)])
                start += len(request.rows)

    @staticmethod
    def _answer(request: _Request, results: list | None = None, error: Exception | None = None) -> None:
        if request.future.done():  # its client gave up (deadline)
            return
        if error is not None:
            request.future.set_exception(error)
        else:
            request.future.set_result(results)
