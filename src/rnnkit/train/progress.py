"""Progress display: a tqdm bar on a terminal, plain log lines otherwise."""
from __future__ import annotations

import sys
from typing import Optional, TextIO


def format_seconds(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """Shows step, loss, tokens/s and ETA.

    Args:
        total: the step count the run stops at, if known (for the bar and ETA).
        start: the step the run starts from (non-zero when resuming).
        every: steps between plain log lines.
        stream: where to write (default: ``sys.stderr`` at the time of the call).
        bar: force the bar on/off; default: on when ``stream`` is a terminal.
        quiet: show nothing.
    """

    def __init__(self, total: Optional[int], start: int = 0, every: int = 50,
                 stream: Optional[TextIO] = None, bar: Optional[bool] = None, quiet: bool = False) -> None:
        stream = stream if stream is not None else sys.stderr  # looked up now: it may have been replaced
        self.total, self.every, self.stream, self.quiet = total, max(1, every), stream, quiet
        use_bar = (stream.isatty() if bar is None else bar) and not quiet
        self.bar = None
        if use_bar:
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=start, file=stream, unit="step",
                            dynamic_ncols=True, leave=True)

    def update(self, step: int, loss: float, tokens_per_s: float, eta_s: Optional[float],
               lr: float) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix_str(f"loss {loss:.3f}, {tokens_per_s:,.0f} tok/s, lr {lr:.2e}",
                                     refresh=False)
        elif step % self.every == 0:
            total = f"/{self.total}" if self.total else ""
            eta = f" | ETA {format_seconds(eta_s)}" if eta_s is not None else ""
            self.print(f"step {step}{total} | loss {loss:.4f} | lr {lr:.2e} | "
                       f"{tokens_per_s:,.0f} tok/s{eta}")

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
