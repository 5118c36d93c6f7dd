"""A run's pace on a shared machine: threads for the CPUs that are free, and early notes when
the time budget will cut the schedule or the steps slow down.

On a 2-core machine shared with two other busy processes, torch's two threads wait on each
other at every parallel region and the README's main command ran at about a twentieth of its
quiet rate (issue 31). So, with ``--threads 0`` (the default), :func:`choose_threads` counts the
other runnable threads now (the fewest seen in a few looks at ``/proc/loadavg``, so a busy loop
counts and a passing one does not) and trains with no more threads than the CPUs this process
may use that are free, at least one; the note says so. ``--threads N`` is always obeyed.

:class:`Pace` (a trainer callback) measures the step rate after :data:`CALIBRATION_S` seconds
and, when ``--max-minutes`` will stop the run before ``--max-steps``, says so at once with the
step it expects to reach and what to do (a cosine or linear schedule that follows the steps would
be cut short: ``--anneal-by-time`` ends it within the budget); later, if the rate falls below half
the first one, it says that too. Both rates count validation time, as the budget does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

from .callbacks import Callback
from .schedule import ANNEALED

LOADAVG = Path("/proc/loadavg")
CALIBRATION_S = 30.0
SLOWDOWN = 0.5


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask; the machine's count elsewhere)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy_others(looks: int = 5, interval: float = 0.02) -> int:
    """Other threads running now: /proc/loadavg's runnable count less this one, the fewest of a
    few looks (0 where it cannot be read)."""
    seen = []
    for k in range(looks):
        try:
            running = int(LOADAVG.read_text().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0
        seen.append(max(0, running - 1))
        if k + 1 < looks:
            time.sleep(interval)
    return min(seen)


def choose_threads(current: int) -> tuple[int, Optional[str]]:
    """``(threads, note)``: ``current`` where enough CPUs are free, else the free ones (>= 1)."""
    cpus, others = usable_cpus(), busy_others()
    free = min(cpus, (os.cpu_count() or cpus) - others)  # the load is the machine's, not the mask's
    threads = max(1, free)
    if threads >= current:  # enough free CPUs, or one thread already: nothing to change or say
        return current, None
    procs = f"{others} other busy thread{'s' if others != 1 else ''}"
    return threads, (
        f"{procs} on the {cpus} CPUs this run may use: training with {threads} thread"
        f"{'s' if threads != 1 else ''} instead of {current} (threads that outnumber the free CPUs "
        "wait on each other); --threads N chooses"
    )


class Pace(Callback):
    """Early notes on a run's pace (see the module docstring); keeps no state in checkpoints."""

    name = "pace"

    def __init__(self) -> None:
        self.calls = 0
        self.start: Optional[tuple[float, int]] = None  # (elapsed, step) after the first step
        self.rate: Optional[float] = None  # steps/s over the calibration
        self.window: Optional[tuple[float, int]] = None
        self.slow_said = False

    def on_step_end(self, trainer, loss: float, count: int) -> None:
        # the trainer updates ``elapsed`` after the callbacks: at call k it counts k - 1 steps
        now, step = trainer.elapsed, trainer.step - 1
        self.calls += 1
        if self.calls < 3:  # the first step (warm-up, kernel trials, a C++ build) is not timed
            self.start = self.window = (now, step)
            return
        if self.rate is None:
            if now - self.start[0] >= CALIBRATION_S:
                self.rate = (step - self.start[1]) / (now - self.start[0])
                self.window = (now, step)
                self._budget_note(trainer, now, step)
            return
        if now - self.window[0] >= 4 * CALIBRATION_S:
            rate = (step - self.window[1]) / (now - self.window[0])
            self.window = (now, step)
            if rate < SLOWDOWN * self.rate and not self.slow_said:
                self.slow_said = True
                reach = _reach(trainer.config, now, step, rate)
                trainer.note(
                    f"note: {rate:.2f} steps/s now against {self.rate:.2f} at the start; other work may "
                    f"share the CPUs (load average {_load():.1f} on {usable_cpus()} CPUs)"
                    + (
                        f"; at this rate the budget ends near step {reach:,} of {trainer.config.max_steps:,}"
                        if reach
                        else ""
                    ),
                    event=f"slowed to {rate:.3f} steps/s from {self.rate:.3f}",
                )

    def _budget_note(self, trainer, now: float, step: int) -> None:
        """When the time budget ends before max_steps and the schedule follows the steps, say so."""
        c = trainer.config
        reach = _reach(c, now, step, self.rate)
        if reach is None:
            return
        annealed = c.schedule in ANNEALED
        trainer.note(
            f"note: at {self.rate:.2f} steps/s the {c.max_minutes:g}-minute budget ends near step "
            f"{reach:,} of {c.max_steps:,}"
            + (f": the {c.schedule} schedule will be cut short" if annealed else "")
            + " and the final figure will be worse than a full run's; free the CPUs, raise --max-minutes"
            + (", or add --anneal-by-time so the schedule ends within the budget" if annealed else ""),
            event=f"budget ends near step {reach} of {c.max_steps} at {self.rate:.3f} steps/s",
        )


def _reach(config, now: float, step: int, rate: float) -> Optional[int]:
    """The step the time budget ends near at ``rate``, when that is before ``max_steps`` and the
    schedule follows the steps; else None."""
    if not (config.max_minutes and config.max_steps) or config.anneal_by_time:
        return None
    reach = step + int(rate * max(0.0, 60 * config.max_minutes - now))
    return reach if reach < config.max_steps else None


def _load() -> float:
    """The 1-minute load average (nan where the system does not say)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")
