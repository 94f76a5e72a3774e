"""When orders arrive and what they pay: seasonality, promotions and a demand spike.

Grain: :class:`Demand` gives one multiplier per day of the window; :func:`arrival_times`
turns hour-of-day, weekday and those daily multipliers into one timestamp per order.
Promotions (discount codes and price cuts over date windows) and the spike also change what
orders contain; :mod:`pipelines.generator.chunk` applies that part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

_HOUR_WEIGHTS_WEB = np.array(
    [0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0,
     1.05, 1.0, 0.95, 0.95, 1.0, 1.05, 1.1, 1.2, 1.25, 1.1, 0.8, 0.4]
)  # fmt: skip
_HOUR_WEIGHTS_POS = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.7, 0.9, 1.2, 1.3, 1.0, 0.9, 1.0, 1.2, 1.3, 1.1, 0.6, 0, 0, 0]
)
_WEEKDAY_WEIGHTS_WEB = np.array([1.0, 1.0, 0.98, 1.0, 1.02, 0.92, 1.05])
_WEEKDAY_WEIGHTS_POS = np.array([0.8, 0.85, 0.9, 0.95, 1.1, 1.45, 1.2])


@dataclass(frozen=True)
class Promotion:
    """A discount over a date window (merchant-local dates, both ends included).

    With a ``code``, a share (``redemption``) of web and app orders placed in the window
    type it and get ``percent`` off the order (``total_discounts``, ``discount_codes``).
    Without one, it is an automatic price cut: every line of ``category`` (every line when
    ``category`` is None) sold in the window, in any channel, gets ``percent`` off
    (``line_discount``). ``uplift`` multiplies the window's demand.
    """

    name: str
    start: date
    end: date
    percent: float
    code: str | None = None
    category: str | None = None
    uplift: float = 1.0
    redemption: float = 0.35

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class DemandSpike:
    """One named burst of online demand (merchant-local dates, both ends included).

    Online orders (web, app, marketplace) arrive ``multiplier`` times as often on the
    window's days; with a ``category``, a share (``category_share``) of their lines sell
    that category (the product that went viral).
    """

    name: str
    start: date
    end: date
    multiplier: float
    category: str | None = None
    category_share: float = 0.5

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Seasonality:
    """Weekly and yearly patterns and growth of demand (weekday weights Monday first)."""

    weekday_online: tuple[float, ...] = (1.05, 1.0, 1.0, 1.0, 0.95, 0.8, 1.15)
    weekday_pos: tuple[float, ...] = (0.7, 0.75, 0.8, 0.9, 1.15, 1.6, 1.25)
    yearly_amplitude: float = 0.3
    """Demand swings by +-30% over the year..."""
    yearly_peak_day: int = 340
    """...peaking on this day of the year (early December), lowest half a year later."""
    growth_per_year: float = 0.2
    """The shop grows by 20% a year (compounded daily)."""

    def __post_init__(self) -> None:
        if len(self.weekday_online) != 7 or len(self.weekday_pos) != 7:
            raise ValueError("weekday weights need 7 values, Monday first")


@dataclass(frozen=True)
class Demand:
    """Everything that moves daily demand over one window."""

    first_day: date
    days: int
    seasonality: Seasonality = field(default_factory=Seasonality)
    promotions: tuple[Promotion, ...] = ()
    spike: DemandSpike | None = None

    def day_multipliers(self, *, online: bool) -> np.ndarray:
        """One multiplier per day of the window (yearly cycle x growth x promotions x spike).

        In-store demand follows price cuts but not codes (typed at online checkouts) nor the
        spike (online)."""
        s = self.seasonality
        out = np.empty(self.days, dtype=np.float64)
        for i in range(self.days):
            day = self.first_day + timedelta(days=i)
            phase = 2 * math.pi * (day.timetuple().tm_yday - s.yearly_peak_day) / 365.25
            value = (1 + s.yearly_amplitude * math.cos(phase)) * (1 + s.growth_per_year) ** (
                i / 365.25
            )
            for promo in self.promotions:
                if promo.covers(day) and (online or promo.code is None):
                    value *= promo.uplift
            if online and self.spike is not None and self.spike.covers(day):
                value *= self.spike.multiplier
            out[i] = value
        return out

    def weekday_weights(self, *, online: bool) -> np.ndarray:
        s = self.seasonality
        return np.asarray(s.weekday_online if online else s.weekday_pos, dtype=np.float64)


def _thanksgiving(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def default_promotions(start: date, end: date) -> tuple[Promotion, ...]:
    """The merchant's promotion calendar over ``start``..``end``.

    Every year: a spring code, a summer apparel price cut, a Black Friday to Cyber Monday
    code and a December homeware price cut; plus one two-day flash-sale code a quarter of the
    way into the window, so that even a short window has a promotion.
    """
    promos: list[Promotion] = []
    for year in range(start.year, end.year + 1):
        yy = year % 100
        black_friday = _thanksgiving(year) + timedelta(days=1)
        promos += [
            Promotion("Spring sale", date(year, 3, 14), date(year, 3, 27), 0.15,
                      code=f"SPRING{yy}", uplift=1.25),
            Promotion("Summer apparel sale", date(year, 7, 8), date(year, 7, 21), 0.25,
                      category="Apparel", uplift=1.3),
            Promotion("Black Friday / Cyber Monday", black_friday,
                      black_friday + timedelta(days=3), 0.25, code=f"BFCM{yy}", uplift=2.2,
                      redemption=0.55),
            Promotion("Holiday homeware sale", date(year, 12, 1), date(year, 12, 14), 0.15,
                      category="Home", uplift=1.15),
        ]  # fmt: skip
    span = (end - start).days
    flash = start + timedelta(days=span // 4)
    promos.append(
        Promotion("Flash sale", flash, min(flash + timedelta(days=1), end), 0.20,
                  code="FLASH20", uplift=1.6, redemption=0.4)
    )  # fmt: skip
    inside = [p for p in promos if p.end >= start and p.start <= end]
    return tuple(sorted(inside, key=lambda p: (p.start, p.name)))


def default_spike(start: date, end: date) -> DemandSpike:
    """A three-day spike (one day in windows under two weeks) about 60% into the window: an
    influencer features a hand cream, online demand triples and Beauty sells."""
    span = (end - start).days
    first = start + timedelta(days=int(span * 0.6))
    length = 3 if span >= 14 else 1
    return DemandSpike(
        "influencer_feature",
        first,
        min(first + timedelta(days=length - 1), end),
        3.0,
        category="Beauty",
        category_share=0.5,
    )


def arrival_times(
    rng: np.random.Generator,
    n: int,
    start: int,
    hours: int,
    tz: str,
    pos: bool,
    demand: Demand | None = None,
) -> np.ndarray:
    """``n`` order times (unix seconds) following local hour-of-day and weekday patterns.

    Without ``demand``: the writer's fixed weekday weights and 25% growth over the window.
    With it: its weekday weights and daily multipliers, by the local date in ``tz``.
    """
    edges = start + 3600 * np.arange(hours + 1, dtype=np.int64)
    local = (
        pl.Series(edges[:-1] * 1_000_000)
        .cast(pl.Datetime("us", "UTC"))
        .dt.convert_time_zone(tz)
        .to_frame("t")
        .select(
            pl.col("t").dt.hour().alias("h"),
            (pl.col("t").dt.weekday() - 1).alias("d"),
            pl.col("t").dt.date().cast(pl.Int64).alias("day"),
        )
    )
    hour = local["h"].to_numpy()
    weekday = local["d"].to_numpy()
    hourly = _HOUR_WEIGHTS_POS if pos else _HOUR_WEIGHTS_WEB
    if demand is None:
        weekly = _WEEKDAY_WEIGHTS_POS if pos else _WEEKDAY_WEIGHTS_WEB
        weights = hourly[hour] * weekly[weekday]
        weights = weights * (1.0 + 0.25 * np.arange(hours) / max(hours, 1))  # the shop grows
    else:
        first = (demand.first_day - date(1970, 1, 1)).days
        day = np.clip(local["day"].to_numpy() - first, 0, demand.days - 1)
        weights = (
            hourly[hour]
            * demand.weekday_weights(online=not pos)[weekday]
            * demand.day_multipliers(online=not pos)[day]
        )
    cdf = np.concatenate([[0.0], np.cumsum(weights)])
    cdf /= cdf[-1]
    return np.floor(np.interp(rng.random(n), cdf, edges.astype(np.float64))).astype(np.int64)
