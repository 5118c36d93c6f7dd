"""The normaliser of a series: scales windows and targets for the network, fitted on the training
part only (:mod:`rnnkit.recipes.timeseries.series` says how a series is split)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from rnnkit.recipes.timeseries.series import LIMIT

#: the most standard deviations (of the training part) a value may lie from it once scaled: the
#: network computes in float32, where squares of larger numbers overflow
REACH = 1e12


def _spread(values: Tensor, what: str, source: str) -> float:
    """The standard deviation of ``values`` (scaled first, so tiny values do not underflow to 0);
    1 for a constant series. ValueError when it is positive but under ``1 / LIMIT``: dividing by
    it would blow values up beyond :data:`LIMIT`."""
    largest = float(values.abs().max())
    spread = float((values / largest).std()) * largest if largest > 0 else 0.0
    if spread == 0:
        return 1.0
    if spread < 1 / LIMIT:
        raise ValueError(
            f"{source}: the training part's {what} vary by {spread:.3g} (standard deviation), less than "
            f"{1 / LIMIT:g}: too little to scale; rescale the series"
        )
    return spread


@dataclass(frozen=True)
class Normaliser:
    """Scales a window and its target for the network; fitted on the training part only.

    ``target="level"``: inputs and target become ``(y - mean) / std``. ``target="change"``:
    inputs become ``(y - last) / std`` and the target ``(y_next - last) / step_std``, with
    ``last`` the window's last value: the network predicts the change, so a trend carries on
    beyond the training range. ``enabled=False`` keeps mean 0 and scales 1.
    """

    mean: float = 0.0
    std: float = 1.0
    step_std: float = 1.0
    target: str = "level"

    @classmethod
    def fit(
        cls, train: Tensor, target: str = "level", enabled: bool = True, source: str = "the series"
    ) -> "Normaliser":
        """Statistics of ``train`` (the training part's values, (T_train,)); ``source`` names the
        series in errors."""
        if target not in ("level", "change"):
            raise ValueError(f"target: expected level or change, got {target!r}")
        if not enabled:
            return cls(target=target)
        std = _spread(train, "values", source) if len(train) > 1 else 1.0
        step = _spread(train.diff(), "steps", source) if len(train) > 2 else 1.0
        return cls(float(train.mean()), std, step, target)

    def check(self, values: Tensor, source: str) -> None:
        """ValueError naming ``source`` when ``values`` (T,) lie so far from the training part that the
        network would read them as more than :data:`REACH` standard deviations (their squares would
        overflow in float32, and the forecasts become inf or NaN)."""
        if self.target == "change":
            reach = float(values.max() - values.min()) / min(self.std, self.step_std) if len(values) else 0.0
            what = "range (largest minus smallest value)"
        else:
            reach = float(((values - self.mean) / self.std).abs().max()) if len(values) else 0.0
            what = "distance from the training mean"
        if reach > REACH:
            raise ValueError(
                f"{source}: its {what} is {reach:.3g} training standard deviations, more than the "
                f"{REACH:g} the network can read; check the values (or train on a part like them)"
            )

    def inputs(self, window: Tensor) -> Tensor:
        """(N, W) raw windows -> (N, W) network inputs."""
        if self.target == "change":
            return (window - window[:, -1:]) / self.std
        return (window - self.mean) / self.std

    def encode_target(self, target: Tensor, window: Tensor) -> Tensor:
        """(N,) raw next values -> (N,) network targets, given their (N, W) windows."""
        if self.target == "change":
            return (target - window[:, -1]) / self.step_std
        return (target - self.mean) / self.std

    def decode(self, output: Tensor, window: Tensor) -> Tensor:
        """(N,) network outputs -> (N,) values on the series' scale."""
        if self.target == "change":
            return window[:, -1] + output * self.step_std
        return self.mean + output * self.std

    @property
    def out_scale(self) -> float:
        """How much one unit of network output is on the series' scale (for standard deviations)."""
        return self.step_std if self.target == "change" else self.std

    def to_json(self) -> dict:
        return {"mean": self.mean, "std": self.std, "step_std": self.step_std, "target": self.target}

    @classmethod
    def from_json(cls, data: dict) -> "Normaliser":
        return cls(float(data["mean"]), float(data["std"]), float(data["step_std"]), str(data["target"]))
