"""`-c N` seeding: N worker processes, forked after the app's objects are built, each a
`Worker` (entrypoints/seed_workers.py), fed meta-tiles through a bounded queue."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from domain.seeding import SeedTask
from domain.tiles import TileSet
from entrypoints.seed_workers import Job, Result, Worker, aborted

if TYPE_CHECKING:
    from entrypoints.seeder import SeedOptions


class Pool:
    """Forked worker processes fed through a bounded queue."""

    def __init__(
        self,
        sets: list[TileSet],
        tasks: tuple[SeedTask, ...],
        options: SeedOptions,
        stop: Callable[[], bool],
    ) -> None:
        ctx = multiprocessing.get_context("fork")
        self.stop = stop
        self.jobs: Any = ctx.Queue(maxsize=options.concurrency * 2)
        self.results: Any = ctx.Queue()
        self.stop_event = ctx.Event()
        self.outstanding = 0
        self.procs = [
            ctx.Process(
                target=_worker,
                args=(sets, tasks, options, self.jobs, self.results, self.stop_event),
                daemon=True,
            )
            for _ in range(options.concurrency)
        ]
        for proc in self.procs:
            proc.start()

    def submit(self, job: Job) -> Iterator[Result]:
        """Hand `job` to a worker; yields the meta-tiles finished meanwhile."""
        while True:
            yield from self._collect(block=False)
            if self.stop():
                self.stop_event.set()
                return
            try:
                self.jobs.put(job, timeout=0.1)
            except queue.Full:
                continue
            self.outstanding += 1
            return

    def drain(self) -> Iterator[Result]:
        while self.outstanding:
            if not any(p.is_alive() for p in self.procs):
                raise RuntimeError("every seed worker died")
            yield from self._collect(block=True)

    def _collect(self, block: bool) -> Iterator[Result]:
        while self.outstanding:
            try:
                result = self.results.get(block=block, timeout=0.2 if block else None)
            except queue.Empty:
                return
            self.outstanding -= 1
            yield result
            block = False

    def close(self) -> None:
        for _ in self.procs:
            self.jobs.put(None)
        for proc in self.procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        self.jobs.close()
        self.results.close()


def _worker(
    sets: list[TileSet],
    tasks: tuple[SeedTask, ...],
    options: SeedOptions,
    jobs: Any,
    results: Any,
    stop_event: Any,
) -> None:
    # Ctrl-C reaches the whole process group: the main process decides when to stop, and
    # a worker finishes the meta-tiles it is making.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()
    worker = Worker(sets, tasks, options, stop_event.is_set)
    try:
        while True:
            # Take a job only with a slot free, so that an idle worker can take it instead.
            for result in worker.finished(block=worker.full):
                results.put(result)
            try:
                # Poll while meta-tiles are under way, to pass on their results soon.
                job = jobs.get(timeout=0.02 if worker.pending else 1)
            except queue.Empty:
                if os.getppid() != parent:
                    return  # the main process is gone (killed): nobody wants results
                continue
            if job is None or os.getppid() != parent:
                break
            if stop_event.is_set():
                results.put(aborted(job))
                continue
            for result in worker.submit(job):
                results.put(result)
        for result in worker.drain():
            results.put(result)
    finally:
        worker.close()
