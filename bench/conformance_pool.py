"""Run conformance checks in worker processes that may die.

A converter or the runtime can crash the process (a segfault in a plugin) or hang, so each
check runs in a worker process the parent can kill: one thread per worker sends a check, waits
at most `timeout` seconds for the answer, and on a dead worker records "crashed", on a silent
one kills it and records "timed out"; either way a fresh worker takes the next check. Workers
are also replaced every `checks_per_worker` checks, so what a runtime leaks stays bounded.
(`concurrent.futures` cannot kill one hung task, hence this small pool of our own.)
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from typing import Callable, Iterable

from .conformance_cases import Case
from .conformance_check import Outcome

Task = tuple[int, Case, str]  # (case index, case, side)


def worker_main(connection) -> None:
    """Answer checks until told to stop; the worker's own output goes nowhere (the runtime
    prints to the C streams, which would interleave with the parent's table)."""
    silence_output()
    from .conformance_check import check

    while True:
        task = connection.recv()
        if task is None:
            return
        case, side = task
        started = time.monotonic()
        outcome = check(case, side)
        outcome.seconds = round(time.monotonic() - started, 3)
        connection.send(outcome)


def silence_output() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


class Worker:
    def __init__(self, context):
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=worker_main, args=(child_end,), daemon=True)
        self.process.start()
        child_end.close()
        self.checks = 0

    def run(self, case: Case, side: str, timeout: float) -> Outcome:
        started = time.monotonic()
        try:
            self.connection.send((case, side))
            if self.connection.poll(timeout):
                self.checks += 1
                return self.connection.recv()
        except (EOFError, OSError, BrokenPipeError):
            return self.died(started)
        self.kill()
        return Outcome(False, "timeout", f"timed out after {timeout:g} s",
                       seconds=round(time.monotonic() - started, 3))

    def died(self, started: float) -> Outcome:
        self.process.join(5)
        code = self.process.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return Outcome(False, "crashed", f"crashed: the worker process died ({how})",
                       seconds=round(time.monotonic() - started, 3))

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self) -> None:
        try:
            self.connection.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.process.join(5)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()


def run_all(tasks: Iterable[Task], jobs: int, timeout: float,
            on_result: Callable[[int, str, Outcome], None], checks_per_worker: int = 50) -> None:
    """Run every task on `jobs` workers; `on_result(index, side, outcome)` is called (under a
    lock) as each finishes."""
    pending: queue.Queue = queue.Queue()
    for task in tasks:
        pending.put(task)
    lock = threading.Lock()
    context = multiprocessing.get_context("spawn")

    def drive() -> None:
        worker = None
        while True:
            try:
                index, case, side = pending.get_nowait()
            except queue.Empty:
                break
            if worker is None or not worker.alive or worker.checks >= checks_per_worker:
                if worker is not None:
                    worker.stop()
                worker = Worker(context)
            outcome = worker.run(case, side, timeout)
            with lock:
                on_result(index, side, outcome)
        if worker is not None:
            worker.stop()

    threads = [threading.Thread(target=drive, daemon=True) for _ in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
