"""A series' time column: dates read as dates, and the times after its end at its own frequency.

Every value of the column must be in one format:

* ``YYYYMMDD``: an 8-digit integer that is a real date (CO2's ``19580329``);
* ``YYYY-MM-DD`` or ``YYYY-MM``: ISO dates and months;
* a plain number (years such as sunspots' ``1700``, or any index).

The frequency comes from the spacing of the column's last values (all of them must agree; a
checkpoint keeps the last few): a number of days (1 daily, 7 weekly), a number of months (1
monthly, 3 quarterly, 12 yearly; dates on the same day of the month, or each on its month's last
day) or, for numbers, a constant step. The next times are printed in the column's own format,
never as a float in exponent form. When the column has no such frequency (irregular, mixed,
text), there are no times: forecasts are numbered steps, and :func:`continue_times` says why.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from typing import Optional, Sequence, Union

Time = Union[str, int, float]
#: how many of the last times are checked for an even spacing (and kept in a checkpoint)
KEPT = 8
_FORMATS = (
    ("YYYYMMDD", re.compile(r"\d{8}")),
    ("YYYY-MM-DD", re.compile(r"\d{4}-\d{2}-\d{2}")),
    ("YYYY-MM", re.compile(r"\d{4}-\d{2}")),
)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _date(text: str, form: str) -> Optional[dt.date]:
    try:
        if form == "YYYYMMDD":
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if form == "YYYY-MM-DD":
            return dt.date.fromisoformat(text)
        return dt.date(int(text[:4]), int(text[5:7]), 1)
    except ValueError:
        return None


def read_times(times: Sequence[str]) -> tuple[str, list] | None:
    """``(format, values)``: dates (``datetime.date``) or numbers (int or float), when every one of
    ``times`` reads in the same format; None otherwise."""
    texts = [str(t).strip() for t in times]
    if not texts:
        return None
    for form, pattern in _FORMATS:
        if all(pattern.fullmatch(t) for t in texts):
            dates = [_date(t, form) for t in texts]
            if all(dates):
                return form, dates
    if all(_NUMBER.fullmatch(t) for t in texts):
        whole = all(re.fullmatch(r"[+-]?\d+", t) for t in texts)
        return "number", [int(t) if whole else float(t) for t in texts]
    return None


def _month_end(day: dt.date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def _add_months(day: dt.date, months: int, month_end: bool) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, last if month_end else min(day.day, last))


def _spacing(form: str, values: list):
    """``("days" | "months" | "step", size)`` when the last values are evenly spaced, else None."""
    pairs = list(zip(values[:-1], values[1:]))
    if form == "number":
        step = values[-1] - values[-2]
        even = all(abs((b - a) - step) <= 1e-9 * max(abs(a), abs(b), 1) for a, b in pairs)
        return ("step", step) if even and step > 0 and math.isfinite(step) else None
    months = {(b.year - a.year) * 12 + b.month - a.month for a, b in pairs}
    same_day = all(a.day == b.day or (_month_end(a) and _month_end(b)) for a, b in pairs)
    if len(months) == 1 and same_day and next(iter(months)) > 0:
        return "months", next(iter(months))
    days = {(b - a).days for a, b in pairs}
    if len(days) == 1 and next(iter(days)) > 0 and form != "YYYY-MM":
        return "days", next(iter(days))
    return None


def _format(form: str, value) -> Time:
    if form == "YYYYMMDD":
        return value.strftime("%Y%m%d")
    if form == "YYYY-MM-DD":
        return value.isoformat()
    if form == "YYYY-MM":
        return value.strftime("%Y-%m")
    return value if isinstance(value, int) else float(f"{value:.12g}")


def continue_times(times: Optional[Sequence[str]], horizon: int) -> tuple[Optional[list[Time]], str]:
    """``(the horizon times after the column's last, '')``, or ``(None, why not)``.

    Dates come back as text in the column's format (``"20020105"``, ``"2002-01"``), numbers as
    numbers (int when the column holds integers). Only the last :data:`KEPT` times are read.
    """
    if not times:
        return None, ""
    if len(times) < 2:
        return None, "one time value is not enough to tell the series' frequency; steps are numbered"
    parsed = read_times(list(times)[-KEPT:])
    if parsed is None:
        return None, ("the time column is not all dates (YYYYMMDD, YYYY-MM-DD, YYYY-MM) or numbers; steps are numbered")
    form, values = parsed
    spacing = _spacing(form, values)
    if spacing is None:
        return None, f"the time column's last values are not evenly spaced ({form}); steps are numbered"
    unit, size = spacing
    last = values[-1]
    if unit == "step":
        return [_format(form, last + k * size) for k in range(1, horizon + 1)], ""
    if unit == "days":
        return [_format(form, last + dt.timedelta(days=k * size)) for k in range(1, horizon + 1)], ""
    ends = all(_month_end(v) for v in values) and form == "YYYY-MM-DD"
    return [_format(form, _add_months(last, k * size, ends)) for k in range(1, horizon + 1)], ""


def time_axis(times: Optional[Sequence[str]], length: int) -> list[float]:
    """The time column as numbers for a plot's x axis: dates as fractional years, numbers as they
    are; the index ``0 .. length - 1`` when the column is missing or not all dates or numbers."""
    parsed = read_times(times) if times and len(times) == length else None
    if parsed is None:
        return list(range(length))
    form, values = parsed
    if form == "number":
        return [float(v) for v in values]
    return [v.year + (v.timetuple().tm_yday - 1) / (366 if calendar.isleap(v.year) else 365) for v in values]
