"""Progress: how far a run is (its budgets), shown as a tqdm bar on a terminal or plain log
lines otherwise; and Ctrl-C, which asks the run to save and stop."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Callable, Optional, TextIO


def format_seconds(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """Shows step, loss, the rate (``unit`` per second: tok/s, names/s, images/s...) and ETA.

    Args:
        total: the step count the run stops at, if known (for the bar and ETA).
        start: the step the run starts from (non-zero when resuming).
        every: steps between plain log lines.
        stream: where to write (default: ``sys.stderr`` at the time of the call).
        bar: force the bar on/off; default: on when ``stream`` is a terminal.
        quiet: show nothing.
        unit: what the objective's count counts (its ``unit``: tok, chars, names, images...).
    """

    def __init__(
        self,
        total: Optional[int],
        start: int = 0,
        every: int = 50,
        stream: Optional[TextIO] = None,
        bar: Optional[bool] = None,
        quiet: bool = False,
        unit: str = "items",
    ) -> None:
        stream = stream if stream is not None else sys.stderr  # looked up now: it may have been replaced
        self.total, self.every, self.stream, self.quiet = total, max(1, every), stream, quiet
        self.unit = unit
        use_bar = (stream.isatty() if bar is None else bar) and not quiet
        self.bar = None
        if use_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, file=stream, unit="step", dynamic_ncols=True, leave=True)

    def update(self, step: int, loss: float, rate: float, eta_s: Optional[float], lr: float) -> None:
        """Step ``step`` done: ``rate`` is in :attr:`unit` per second."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix_str(f"loss {loss:.3f}, {rate:,.0f} {self.unit}/s, lr {lr:.2e}", refresh=False)
        elif step % self.every == 0:
            total = f"/{self.total}" if self.total else ""
            eta = f" | ETA {format_seconds(eta_s)}" if eta_s is not None else ""
            self.print(f"step {step}{total} | loss {loss:.4f} | lr {lr:.2e} | {rate:,.0f} {self.unit}/s{eta}")

    def print(self, message: str) -> None:
        """A message that does not break the bar."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ---- how far a run is: its budgets (``config`` is a TrainConfig) ------------
def schedule_fraction(config, step: int, elapsed: float) -> float:
    """Steps over ``max_steps`` (and, with ``anneal_by_time``, time over ``max_minutes``):
    how far a cosine or linear schedule is."""
    by_steps = step / config.max_steps if config.max_steps else 0.0
    by_time = elapsed / (60 * config.max_minutes) if config.anneal_by_time and config.max_minutes else 0.0
    return max(by_steps, by_time)


def budget_fraction(config, step: int, epoch: int, elapsed: float) -> float:
    """How much of the run is done: the most used of its step, pass and time budgets, in [0, 1]."""
    used = [
        step / config.max_steps if config.max_steps else 0.0,
        epoch / config.max_epochs if config.max_epochs else 0.0,
        elapsed / (60 * config.max_minutes) if config.max_minutes else 0.0,
    ]
    return min(max(used), 1.0)


def stop_reason(config, step: int, epoch: int, elapsed: float, bad_evals: int) -> Optional[str]:
    """Why the run stops now (a budget is used, or early stopping), or None."""
    if config.max_steps and step >= config.max_steps:
        return f"reached max_steps={config.max_steps}"
    if config.max_epochs and epoch >= config.max_epochs:
        return f"reached max_epochs={config.max_epochs}"
    if config.max_minutes and elapsed >= 60 * config.max_minutes:
        return f"time budget of {config.max_minutes:g} min used"
    if config.patience and bad_evals >= config.patience:
        return f"early stop: no improvement in {config.patience} evaluations"
    return None


def catch_sigint(request_stop: Callable[[], None]) -> Callable[[], None]:
    """The first Ctrl-C calls ``request_stop()`` (the loop saves and stops); a second one kills.

    Returns the function that puts the previous handler back (nothing off the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        request_stop()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    return lambda: signal.signal(signal.SIGINT, previous)
