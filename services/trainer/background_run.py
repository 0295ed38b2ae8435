"""One training run at a time, beside the consumer, never inside its batch handler.

While a run trains (seconds to minutes), the consumer must keep reading labels and predictions
(they are the next run's data) and retrain requests (the next run's reason). So a run is its
own asyncio task, with torch in a worker thread; the handler only starts it. Stopping is
bounded: the run is given ``grace_s`` to finish, then asked to cancel (the training loop checks
between mini-batches and between phases, and nothing is registered before the end, so a
cancelled run leaves no trace but its log line); its request stays pending in the store."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

log = logging.getLogger("driftloop.trainer")


class RunCancelled(Exception):  # noqa: N818 - it is an outcome, not a failure
    """The run was asked to stop before it registered anything."""


class BackgroundRun:
    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._cancel = threading.Event()
        self._closed = False

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def should_stop(self) -> bool:
        """Polled by the training thread."""
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise RunCancelled when a stop was asked for (for the training thread)."""
        if self._cancel.is_set():
            raise RunCancelled("the trainer is stopping")

    def start(self, run: Callable[[], Awaitable[None]],
              then: Callable[[], None] | None = None) -> bool:
        """Start ``run`` unless one is in flight; True when it started. ``then`` is called
        once it is done (and the slot is free again), unless the trainer is stopping: work
        that came in during the run need not wait for the next batch to start."""
        if self.busy or self._closed:
            return False
        self._task = asyncio.create_task(self._guarded(run))
        if then is not None:
            self._task.add_done_callback(lambda _: None if self._closed else then())
        return True

    async def _guarded(self, run: Callable[[], Awaitable[None]]) -> None:
        try:
            await run()
        except RunCancelled as exc:
            log.warning("training run cancelled: %s", exc)
        except Exception:  # a bug in one run must not end the service; the next run retries
            log.exception("training run failed")

    async def wait(self) -> None:
        """Until the run in flight (if any) is done (for tests and shutdown)."""
        if self._task is not None:
            await asyncio.wait({self._task})

    async def stop(self, grace_s: float) -> None:
        """Let the run in flight finish within ``grace_s``, else cancel it and wait as long
        again for the thread to notice; no new run starts after this."""
        self._closed = True  # a run that ends during the grace period starts no other
        task = self._task
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=grace_s)
        self._cancel.set()
        if not done:
            log.warning("a training run is still in flight after %.0fs: cancelling it", grace_s)
            done, _ = await asyncio.wait({task}, timeout=grace_s)
        if not done:
            log.error("the training run did not stop within %.0fs more; leaving it", grace_s)
            task.cancel()
