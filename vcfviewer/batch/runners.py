"""Who runs ``analyze_one``: this process, a local process pool, or a Dask distributed cluster.

Each runner is a generator of ``StudyResult`` in completion order; the caller may stop early
(a fatal model error, Ctrl-C) and the runner's ``finally`` cancels what has not started.

Local pool: ``concurrent.futures.ProcessPoolExecutor`` with the spawn start method (no forked
copies of a half-initialised torch), ``workers × threads ≤ cores`` (threads set through
OMP_NUM_THREADS before the worker imports torch), at most two tasks queued per worker. A worker
that dies (a decoder segfault, the kernel's OOM killer) breaks the pool; the studies that were in
flight are then re-run one at a time in fresh processes, so only the guilty one fails.

Dask: ``distributed.Client(ADDRESS)``; the cluster's workers must have vcfviewer installed and
the same model (checked per study against the version this batch expects). Dask workers started
by a nanny already set OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from vcfviewer.batch.task import BatchError, StudyResult, StudyTask, analyze_one, failed

DIED = "the worker process died while analysing this study (a crash or out of memory)"
_QUEUED_PER_WORKER = 2
TaskFunction = Callable[[StudyTask], StudyResult]  # analyze_one; tests pass stand-ins


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """One worker per core, at most four (each holds a model and a decoded image)."""
    return max(1, min(4, available_cores()))


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """torch threads per worker so that workers × threads ≤ cores."""
    return max(1, (cores or available_cores()) // max(1, workers))


def run_serial(tasks: Iterable[StudyTask]) -> Iterator[StudyResult]:
    """Run every task in this process (``--workers 0``: debugging, tests, tiny batches)."""
    for task in tasks:
        yield analyze_one(task)


def _init_worker(threads: int) -> None:
    # Before torch is imported in this fresh (spawned) process: it sizes its pool from these.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    # Ctrl-C is the parent's to handle: it stops handing out work and writes the summary.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool(workers: int, threads: int) -> ProcessPoolExecutor:
    import multiprocessing

    return ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(threads,),
                               mp_context=multiprocessing.get_context("spawn"))


def _fill(pool: ProcessPoolExecutor, fn: TaskFunction, queue: deque[StudyTask],
          in_flight: dict[Future, StudyTask], limit: int) -> None:
    while queue and len(in_flight) < limit:
        task = queue.popleft()
        try:
            in_flight[pool.submit(fn, task)] = task
        except (BrokenProcessPool, RuntimeError):
            queue.appendleft(task)
            raise BrokenProcessPool("pool broken before submit") from None


def _round(fn: TaskFunction, queue: deque[StudyTask], workers: int,
           threads: int) -> Generator[StudyResult, None, list[StudyTask]]:
    """Run from ``queue`` in one pool until empty or broken; returns the suspects of a break."""
    pool = _pool(workers, threads)
    in_flight: dict[Future, StudyTask] = {}
    try:
        while queue or in_flight:
            try:
                _fill(pool, fn, queue, in_flight, workers * _QUEUED_PER_WORKER)
            except BrokenProcessPool:
                return list(in_flight.values())
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            broken = []
            for future in done:
                task = in_flight.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken.append(task)
                    continue
                yield result
            if broken:
                return broken + list(in_flight.values())
        return []
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _isolated(fn: TaskFunction, task: StudyTask, threads: int) -> StudyResult:
    """Run one suspect study alone in a fresh process: a crash now is its own."""
    pool = _pool(1, threads)
    try:
        return pool.submit(fn, task).result()
    except BrokenProcessPool:
        return failed(task, "worker", DIED)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def run_local(tasks: Iterable[StudyTask], workers: int, threads: int | None = None,
              fn: TaskFunction = analyze_one) -> Iterator[StudyResult]:
    """Run the tasks on a local spawn process pool of ``workers`` processes."""
    if workers < 1:
        raise BatchError("--workers must be at least 1 for a process pool (0 runs in-process)")
    threads = threads or threads_per_worker(workers)
    queue = deque(tasks)
    while queue:
        suspects = yield from _round(fn, queue, workers, threads)
        for task in suspects:
            yield _isolated(fn, task, threads)


def _client(scheduler: str, timeout_s: float):  # -> distributed.Client
    try:
        from distributed import Client
    except ImportError:
        raise BatchError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
    try:
        return Client(scheduler, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise BatchError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None


def run_dask(tasks: Iterable[StudyTask], scheduler: str,
             timeout_s: float = 15.0) -> Iterator[StudyResult]:
    """Run the tasks on the Dask distributed cluster whose scheduler is at ``scheduler``."""
    from vcfviewer.io.errors import describe

    client = _client(scheduler, timeout_s)
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    futures = {}
    try:
        for task in tasks:
            future = client.submit(analyze_one, task, pure=False,
                                   key=f"vcfviewer-analyze-{task.key}-{token}")
            futures[future] = task
        for future in as_completed(list(futures), loop=client.loop):
            task = futures[future]
            try:
                yield future.result()
            except Exception as exc:  # KilledWorker, lost connection, a worker without vcfviewer
                yield failed(task, "worker", f"Dask: {type(exc).__name__}: {describe(exc)}")
    finally:
        if futures:
            client.cancel(list(futures))
        client.close()
