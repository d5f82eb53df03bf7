"""Progress inside a long stage: rows done, rate and time left, as one line every few seconds.

Lines go to `notify` (a build's narrator, so `-q` silences them) or, without one, to stderr. Nothing
is printed before `every` seconds have passed, so small inputs stay quiet.

>>> lines = []
>>> clock = iter([0.0, 3.0, 6.0]).__next__
>>> progress = Progress("apply LFs", total=300, notify=lines.append, clock=clock)
>>> progress.advance(100)
>>> lines
['apply LFs: 100/300 rows (33%), 33 rows/s, ~6s left']
"""
from __future__ import annotations

import sys
import time

EVERY = 2.0  # seconds between lines


class Progress:
    """Report `advance(rows)` calls of a stage of `total` rows (total may be unknown: None)."""

    def __init__(self, what: str, total: int | None = None, *, notify=None, every: float | None = None, clock=None,
                 unit: str = "rows"):
        self.what = what
        self.unit = unit  # "rows"; anything else (e.g. "candidates": a few slow steps) says time so far, not a rate
        self.total = total
        self.notify = notify or to_stderr
        self.every = EVERY if every is None else every
        self.clock = clock or time.perf_counter
        self.done = 0
        self.started = self.clock()
        self.last = self.started

    def advance(self, rows: int, detail: str = "") -> None:
        """`rows` more done; `detail` (what the step found) follows the line when one is printed."""
        self.done += int(rows)
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            self.notify(self.line(now) + (f" — {detail}" if detail else ""))

    def line(self, now: float | None = None) -> str:
        elapsed = max((now if now is not None else self.clock()) - self.started, 1e-9)
        rate = self.done / elapsed
        if self.unit != "rows":
            left = (self.total - self.done) / rate if self.total and rate > 0 else float("nan")
            return (f"{self.what}: {self.done:,}/{self.total or '?'} {self.unit}, {_duration(elapsed)} so far"
                    + (f", ~{_duration(left)} left" if self.total else ""))
        if not self.total:
            return f"{self.what}: {self.done:,} rows, {rate:,.0f} rows/s"
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        share = 100 * self.done / self.total
        return (f"{self.what}: {self.done:,}/{self.total:,} rows ({share:.0f}%), {rate:,.0f} rows/s, "
                f"~{_duration(left)} left")


def chunks(n: int, size: int):
    """(start, stop) bounds of consecutive chunks of at most `size` rows covering range(n)."""
    for start in range(0, n, max(1, int(size))):
        yield start, min(n, start + size)


def _duration(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    if seconds < 90:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f} min"


def to_stderr(message: str) -> None:
    """The narrator of code run without one: a progress line on stderr."""
    print(f"· {message}", file=sys.stderr, flush=True)
