"""The classical side of ``benchmarks/scripts/timeseries_baselines.py``: power transforms, ARIMA orders by AIC,
ETS variants by AIC, and forecasts of given points with the fitted parameters held fixed.

A fit sees one prefix of the series only (the training part; for the final refit, training and
validation). A ``horizon``-step forecast of ``y[t]`` uses ``y[:t - horizon + 1]`` only, as rnnkit's
evaluation does: one-step forecasts are the Kalman filter's (ARIMA) or the smoother's (ETS) one-step
predictions over the whole series; longer ones start from the filtered state at each origin and feed
their predictions back. ARIMA parameters are exact Gaussian maximum likelihood by the innovations
algorithm (statsmodels' ``innovations_mle``, 5-10x faster than its state-space fit here; where it
fails, as on a noise-free sine whose AR roots lie on the unit circle, the state-space fit without
stationarity and invertibility constraints). ETS estimates its smoothing parameters and initial
states together by maximum likelihood (statsmodels' ``ETSModel``). Forecasts on a
transformed scale are mapped back without bias adjustment (the median, which is what MAE rewards).
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class Transform:
    """``z = f(y)``: ``none``, ``sqrt``, or Box-Cox of ``y + shift`` with ``lam`` fitted on the training part."""

    name: str = "none"
    lam: float = 1.0
    shift: float = 0.0

    def forward(self, y: np.ndarray) -> np.ndarray:
        if self.name == "sqrt":
            return np.sqrt(y)
        if self.name == "boxcox":
            x = y + self.shift
            return np.log(x) if self.lam == 0 else (x**self.lam - 1) / self.lam
        return y

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Back to the series' scale, clipped to the transform's range."""
        if self.name == "sqrt":
            return np.maximum(z, 0) ** 2
        if self.name == "boxcox":
            if self.lam == 0:
                return np.exp(z) - self.shift
            return np.maximum(self.lam * z + 1, 0) ** (1 / self.lam) - self.shift
        return z

    @property
    def label(self) -> str:
        if self.name == "boxcox":
            return f"Box-Cox(y{f' + {self.shift:g}' if self.shift else ''}, lambda {self.lam:.3f})"
        return {"sqrt": "sqrt(y)", "none": "y"}[self.name]


def guerrero_lambda(train: np.ndarray, block: int) -> float:
    """Box-Cox lambda in [-1, 2] that makes sd/mean^(1 - lambda) most even across consecutive blocks
    of ``block`` values (Guerrero, 1993; the default of R's forecast::BoxCox.lambda)."""
    from scipy.optimize import minimize_scalar

    blocks = train[len(train) % block :].reshape(-1, block)
    mean, sd = blocks.mean(axis=1), blocks.std(axis=1, ddof=1)

    def cv(lam: float) -> float:
        ratio = sd / mean ** (1 - lam)
        return float(ratio.std(ddof=1) / ratio.mean())

    return float(minimize_scalar(cv, bounds=(-1, 2), method="bounded").x)


def transforms_for(train: np.ndarray, season: int) -> list[Transform]:
    """The identity; for a series never negative in training, Box-Cox (of y + 1 when it holds zeros)
    with lambda by Guerrero's method on blocks of one season (at least 2 values); for one that holds
    zeros (counts, such as sunspot numbers), also the square root."""
    if train.min() < 0:
        return [Transform()]
    shift = 0.0 if train.min() > 0 else 1.0
    boxcox = Transform("boxcox", round(guerrero_lambda(train + shift, max(2, season)), 3), shift)
    return [Transform()] + ([Transform("sqrt")] if shift else []) + [boxcox]


def differences(z: np.ndarray) -> int:
    """d = 1 when the KPSS test rejects level stationarity at 5% on ``z`` (as auto.arima), else 0."""
    from statsmodels.tsa.stattools import kpss

    return int(kpss(z, regression="c", nlags="auto")[1] < 0.05)


def fourier(length: int, period: float, harmonics: int) -> Optional[np.ndarray]:
    """(length, 2K) sin and cos of the first K harmonics of ``period`` at t = 0..length-1."""
    if not harmonics:
        return None
    t = np.arange(length)[:, None] * np.arange(1, harmonics + 1)[None] * 2 * math.pi / period
    return np.hstack([np.sin(t), np.cos(t)])


@dataclass
class Fitted:
    """One fitted candidate: its spec, its fit on a prefix and that fit's AIC."""

    family: str  # how it is fitted: "arima" or "ets"
    transform: Transform
    spec: dict
    result: object = field(repr=False)
    aic: float = math.nan
    group: str = ""  # the search it won: ARIMA (with Fourier terms for a calendar season) or ETS
    searched: int = 0  # fits in that search
    failed: int = 0  # its fits that failed (skipped)
    seconds: float = 0.0  # the search's time

    @property
    def label(self) -> str:
        s = self.spec
        if self.family == "ets":
            name = "ETS({},{}{},{})".format(
                s["error"][0].upper(),
                (s["trend"] or "n")[0].upper(),
                "d" if s["damped_trend"] else "",
                (s["seasonal"] or "n")[0].upper(),
            )
            name += f" season {s['seasonal_periods']}" if s["seasonal"] else ""
        else:
            (p, d, q), (sp, sd, sq, m) = s["order"], s["seasonal_order"]
            name = f"ARIMA({p},{d},{q})" + (f"({sp},{sd},{sq})[{m}]" if m else "")
            name += f" + {s['harmonics']} Fourier pairs of period {s['period']:.4g}" if s.get("harmonics") else ""
            name += {"c": " with constant", "t": " with drift", "n": ""}[s["trend"]]
        return name + ("" if self.transform.name == "none" else f" on {self.transform.label}")

    @property
    def roots(self) -> dict:
        """ARIMA: the largest modulus of the AR and MA polynomials' inverse roots (1 = unit circle;
        an AR and an MA root both near 1 nearly cancel)."""
        if self.family != "arima":
            return {}
        out = {}
        for name, poly in (("ar", np.r_[1, -self.result.arparams]), ("ma", np.r_[1, self.result.maparams])):
            out[f"max_inverse_{name}_root"] = float(np.abs(1 / np.roots(poly[::-1])).max()) if len(poly) > 1 else 0.0
        return out

    def exog(self, length: int) -> Optional[np.ndarray]:
        return fourier(length, self.spec.get("period", 1.0), self.spec.get("harmonics", 0))

    def refit(self, y: np.ndarray) -> "Fitted":
        """The same model (orders, transform and its lambda) with its parameters fitted on ``y``."""
        return fit(self.family, self.transform, self.spec, y, self.group)

    def forecasts(self, y: np.ndarray, targets: list[int], horizon: int) -> np.ndarray:
        """(N,) ``horizon``-step forecasts of ``y[t]`` for ``t`` in ``targets`` from ``y[:t - horizon + 1]``,
        parameters fixed, on the series' scale. One filter (smoother) pass over ``y``; an h-step forecast
        starts from the state at its origin and feeds its own predictions back."""
        z = self.transform.forward(y)
        if self.family == "ets":
            run = ets_model(z, self.spec).smooth(self.result.params)
            if horizon == 1:
                out = np.asarray(run.fittedvalues)[targets]
            else:  # a path with zero errors from the state after y[t - horizon] is the point forecast
                zeros = np.zeros((horizon, 1))
                out = np.array(
                    [
                        np.asarray(run.simulate(horizon, anchor=t - horizon, random_errors=zeros)).ravel()[-1]
                        for t in targets
                    ]
                )
        else:
            run = self.result.apply(z, exog=self.exog(len(z)))
            if horizon == 1:
                out = np.asarray(run.predict())[targets]
            else:  # dynamic from the origin: the filter's state there, then predictions fed back
                out = np.array(
                    [run.get_prediction(start=t - horizon + 1, end=t, dynamic=True).predicted_mean[-1] for t in targets]
                )
        return self.transform.inverse(out)


def ets_model(z: np.ndarray, spec: dict):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    return ETSModel(z, initialization_method="estimated", **spec)


def fit(family: str, transform: Transform, spec: dict, y: np.ndarray, group: str = "") -> Fitted:
    """Fit one candidate on ``y`` (a prefix of the series, on its own scale)."""
    z = transform.forward(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence and start-parameter chatter
        if family == "ets":
            result = ets_model(z, spec).fit(disp=False)
        else:
            from statsmodels.tsa.arima.model import ARIMA

            exog = fourier(len(z), spec.get("period", 1.0), spec.get("harmonics", 0))
            model = ARIMA(z, exog=exog, order=spec["order"], seasonal_order=spec["seasonal_order"], trend=spec["trend"])
            try:
                result = model.fit(method="innovations_mle", cov_type="none")
            except (np.linalg.LinAlgError, ValueError):  # a noise-free sine: its AR roots lie on the unit circle
                model = ARIMA(
                    z,
                    exog=exog,
                    order=spec["order"],
                    seasonal_order=spec["seasonal_order"],
                    trend=spec["trend"],
                    enforce_stationarity=False,
                    enforce_invertibility=False,
                )
                result = model.fit(cov_type="none")
                fitted = Fitted(family, transform, spec, result, float(result.aic), group)
                if max(fitted.roots.values(), default=0.0) > 1.001:  # explosive AR or non-invertible MA
                    raise ValueError(
                        f"{fitted.label}: the unconstrained fit has roots outside the unit circle"
                    ) from None
                return fitted
    return Fitted(family, transform, spec, result, float(result.aic), group)


def best_by_aic(family: str, transform: Transform, specs, y: np.ndarray) -> tuple[Optional[Fitted], int, int]:
    """The candidate of lowest AIC on ``y`` among ``specs``, how many fitted and how many failed (skipped)."""
    best, fitted, failed = None, 0, 0
    for spec in specs:
        try:
            candidate = fit(family, transform, spec, y)
        except (np.linalg.LinAlgError, ValueError, RuntimeError):  # e.g. non-invertible start values
            failed += 1
            continue
        fitted += 1
        if math.isfinite(candidate.aic) and (best is None or candidate.aic < best.aic):
            best = candidate
    return best, fitted, failed


def arima_spec(p: int, d: int, q: int, period: float = 0.0, harmonics: int = 0) -> dict:
    """ARIMA(p, d, q) with a constant (d = 0) or a drift (d = 1), and ``harmonics`` sin/cos pairs of
    ``period`` as regressors (errors ARIMA, as in dynamic harmonic regression)."""
    return {
        "order": (p, d, q),
        "seasonal_order": (0, 0, 0, 0),
        "trend": "ct"[d],
        "period": period,
        "harmonics": harmonics,
    }


def ets_specs(z: np.ndarray, season: int):
    """ETS(error, trend, season): additive or multiplicative error, none/additive/damped/multiplicative
    (damped) trend, none/additive/multiplicative season; multiplicative parts only for positive data,
    and an additive error never with a multiplicative part (the unstable combinations R's ets() skips)."""
    positive = bool(z.min() > 0)
    trends = [(None, False), ("add", False), ("add", True)] + ([("mul", False), ("mul", True)] if positive else [])
    seasons = [None] + (["add"] + (["mul"] if positive else []) if season > 1 else [])
    for error, (trend, damped), seasonal in itertools.product(
        ("add", "mul") if positive else ("add",), trends, seasons
    ):
        if error == "add" and "mul" in (trend, seasonal):
            continue
        yield {
            "error": error,
            "trend": trend,
            "damped_trend": damped,
            "seasonal": seasonal,
            "seasonal_periods": season if seasonal else None,
        }


@dataclass
class Plan:
    """What to search on one series."""

    season: int  # the recipe's --season: ETS seasonal variants when > 1
    max_p: int = 10
    max_q: int = 3
    calendar_period: float = 0.0  # a calendar year in steps (weekly CO2: 365.25 / 7): Fourier terms in ARIMA
    max_harmonics: int = 3


def family_winners(y_train: np.ndarray, plan: Plan, log=print) -> list[Fitted]:
    """For each transform, fitted on ``y_train``: the ARIMA of lowest AIC and the ETS variant of lowest
    AIC (AIC only compares fits of the same transformed data). ARIMA: d by KPSS, then p <= max_p,
    q <= max_q; with a calendar season, first the number K <= max_harmonics of Fourier pairs by AIC
    with ARIMA(2, d, 1) errors, then p and q with that K."""
    winners = []
    for transform in transforms_for(y_train, plan.season):
        z = transform.forward(y_train)
        d, start = differences(z), time.perf_counter()
        harmonics, count, failures = 0, 0, 0
        if plan.calendar_period:
            by_k, count, failures = best_by_aic(
                "arima",
                transform,
                [arima_spec(2, d, 1, plan.calendar_period, k) for k in range(plan.max_harmonics + 1)],
                y_train,
            )
            harmonics = by_k.spec["harmonics"] if by_k else 0
        grid = [
            arima_spec(p, d, q, plan.calendar_period, harmonics)
            for p, q in itertools.product(range(plan.max_p + 1), range(plan.max_q + 1))
        ]
        for group, family, specs in (("ARIMA", "arima", grid), ("ETS", "ets", list(ets_specs(z, plan.season)))):
            best, fitted, failed = best_by_aic(family, transform, specs, y_train)
            count, failures = count + fitted, failures + failed
            if best is None:
                log(f"  {transform.label:<34} {group:<5} no fit succeeded")
                continue
            best.group, best.searched, best.failed, best.seconds = group, count, failures, time.perf_counter() - start
            winners.append(best)
            log(
                f"  {transform.label:<34} {group:<5} {count:>3} fits ({failures} failed) {best.seconds:6.1f} s: "
                f"{best.label} (AIC {best.aic:.1f})"
            )
            count, failures, start = 0, 0, time.perf_counter()
    return winners
