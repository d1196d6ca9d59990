"""The hidden life of simulated users: arrival, engagement, satisfaction, churn and return.

Why latent processes rather than sampled events: churn has to be *predictable but not trivially*
from behaviour. Every user carries hidden engagement, satisfaction and value that drive both what
they do (sessions, purchases, support tickets, refunds) and whether they leave, so recent
behaviour carries signal about churn without giving it away.

`step_day` advances a whole chunk of users by one day with numpy only. Its random draws are
fixed-size uniform and standard-normal arrays, so the stream a day consumes never depends on the
users' state; replaying a day under a different campaign treatment therefore sees the same luck
(common random numbers), which is how `simulator.campaigns` knows each campaign's true effect.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

CHANNELS: tuple[str, ...] = ("organic", "paid_search", "social", "referral")
_CHANNEL_SHARE = (0.40, 0.25, 0.20, 0.15)
_CHANNEL_LOG_HAZARD = np.array([0.0, 0.15, 0.35, -0.35])  # referred friends stay, social leaks
_CHANNEL_LOG_RATE = np.array([0.0, -0.05, -0.15, 0.15])
PLATFORMS: tuple[str, ...] = ("ios", "android", "web")
_PLATFORM_SHARE = (0.35, 0.40, 0.25)
VALUE_SEGMENTS: tuple[str, ...] = ("high", "mid", "low")
_VALUE_SHARE = (0.15, 0.35, 0.50)
_SEGMENT_SPEND_MU = np.log([60.0, 28.0, 14.0])  # median order value by segment
_SEGMENT_BUY_BETA = ((3.0, 14.0), (2.0, 24.0), (1.0, 40.0))  # purchase chance per session
_SEGMENT_REACTIVATION = np.array([1.6, 1.0, 0.7])

ONBOARDING_DAYS = 14  # the activation phase: boosted usage, and a habit forms or it does not
_ACTIVATION_MIN_ACTIVE_DAYS = 3
_ONBOARDING_RATE_BOOST = 2.5
_UNACTIVATED_HAZARD = 3.0
_GROWTH = math.log(6.0)  # daily acquisitions grow sixfold over the simulated period
_MEAN_SESSION_RATE = 0.065  # sessions per day of an average live user
_VIEW_RATE = 0.8  # page views per session, on average
_RATE_SHAPE = 4.0  # spread of habitual usage between users (gamma shape)
_DRIFT_MEAN, _DRIFT_SPREAD = -0.0005, 0.002  # daily drift of log engagement across users
_ENGAGEMENT_NOISE = 0.03  # day-to-day random walk of log engagement
_BASE_HAZARD = 0.0008  # daily churn hazard of an average, satisfied user
_REACTIVATION_RATE = 0.012  # daily chance that a just-lapsed, average user comes back
_REACTIVATION_MEMORY_DAYS = 90.0  # the chance fades as the product is forgotten
_SATISFACTION_RECOVERY = 0.015  # share of the gap to normal satisfaction closed per day
_TICKET_HIT, _BAD_PURCHASE_HIT = 0.25, 0.35  # satisfaction lost to a ticket, a bad order
_DISSATISFACTION_HAZARD = 4.0  # log-hazard per unit of lost satisfaction
_REFUND_RING = 8  # refunds land 1-7 days after the purchase that went wrong
_MISSING_DAY = -1_000_000


@dataclass(frozen=True)
class Population:
    """Fixed per-user traits of one chunk, drawn once; indices are positions within the chunk."""

    acquisition_day: np.ndarray
    channel: np.ndarray
    platform: np.ndarray
    value_segment: np.ndarray
    base_rate: np.ndarray
    engagement_start: np.ndarray
    engagement_drift: np.ndarray
    satisfaction_base: np.ndarray
    buy_chance: np.ndarray
    refund_chance: np.ndarray
    spend_mu: np.ndarray
    hour_peak: np.ndarray
    hour_spread: np.ndarray
    view_rate: np.ndarray

    @property
    def size(self) -> int:
        return int(self.acquisition_day.size)


@dataclass
class UserState:
    """What changes day by day. `treatment_lift` > 0 helps (campaigns), < 0 backfires."""

    alive: np.ndarray
    log_engagement: np.ndarray
    satisfaction: np.ndarray
    first_event_day: np.ndarray
    last_event_day: np.ndarray
    onboarding_active_days: np.ndarray
    reactivated: np.ndarray
    refund_ring: np.ndarray
    treatment_lift: np.ndarray
    treated_until: np.ndarray

    def copy(self) -> UserState:
        """An independent copy, for replaying days under another treatment."""
        return dataclasses.replace(
            self, **{f.name: getattr(self, f.name).copy() for f in dataclasses.fields(self)}
        )


@dataclass(frozen=True)
class DayActivity:
    """Users who did something on one day (sparse), enough to expand into events later."""

    day: int
    user: np.ndarray
    sessions: np.ndarray
    purchase: np.ndarray
    refund_delay: np.ndarray  # 0 = no refund; else the refund lands this many days later
    ticket: np.ndarray


def draw_acquisition_days(n_users: int, days: int, rng: np.random.Generator) -> np.ndarray:
    """Sign-up days under exponential growth: later days acquire more users."""
    unit = rng.random(n_users)
    spread = np.log1p(unit * math.expm1(_GROWTH)) / _GROWTH
    return np.minimum((spread * days).astype(np.int32), days - 1)


def draw_population(n_users: int, days: int, rng: np.random.Generator) -> Population:
    """Heterogeneous users: channel, platform, latent value segment, habits and spend."""
    channel = rng.choice(len(CHANNELS), size=n_users, p=_CHANNEL_SHARE).astype(np.int8)
    segment = rng.choice(len(VALUE_SEGMENTS), size=n_users, p=_VALUE_SHARE).astype(np.int8)
    buy_alpha = np.array([a for a, _ in _SEGMENT_BUY_BETA])[segment]
    buy_beta = np.array([b for _, b in _SEGMENT_BUY_BETA])[segment]
    hour_mode = rng.choice(3, size=n_users, p=(0.55, 0.30, 0.15))  # evening, midday, morning
    return Population(
        acquisition_day=draw_acquisition_days(n_users, days, rng),
        channel=channel,
        platform=rng.choice(len(PLATFORMS), size=n_users, p=_PLATFORM_SHARE).astype(np.int8),
        value_segment=segment,
        base_rate=rng.gamma(_RATE_SHAPE, _MEAN_SESSION_RATE / _RATE_SHAPE, n_users)
        * np.exp(_CHANNEL_LOG_RATE[channel]),
        engagement_start=rng.normal(0.0, 0.4, n_users),
        engagement_drift=rng.normal(_DRIFT_MEAN, _DRIFT_SPREAD, n_users),
        satisfaction_base=rng.beta(9.0, 1.5, n_users),
        buy_chance=rng.beta(buy_alpha, buy_beta),
        refund_chance=0.02 + 0.12 * rng.beta(1.0, 4.0, n_users),
        spend_mu=_SEGMENT_SPEND_MU[segment] + rng.normal(0.0, 0.5, n_users),
        hour_peak=np.array([20.0, 12.5, 8.0])[hour_mode] + rng.normal(0.0, 1.0, n_users),
        hour_spread=np.array([2.5, 2.0, 1.5])[hour_mode],
        view_rate=rng.gamma(2.0, _VIEW_RATE / 2.0, n_users),
    )


def initial_state(population: Population) -> UserState:
    """Nobody has arrived yet; engagement and satisfaction start at each user's own level."""
    n = population.size
    return UserState(
        alive=np.zeros(n, dtype=bool),
        log_engagement=population.engagement_start.copy(),
        satisfaction=population.satisfaction_base.copy(),
        first_event_day=np.full(n, _MISSING_DAY, dtype=np.int32),
        last_event_day=np.full(n, _MISSING_DAY, dtype=np.int32),
        onboarding_active_days=np.zeros(n, dtype=np.int16),
        reactivated=np.zeros(n, dtype=bool),
        refund_ring=np.zeros((_REFUND_RING, n), dtype=bool),
        treatment_lift=np.zeros(n),
        treated_until=np.zeros(n, dtype=np.int32),
    )


def has_been_seen(state: UserState) -> np.ndarray:
    """Users with at least one event so far."""
    return state.first_event_day > _MISSING_DAY


def calendar_factors(start_weekday: int, start_day_of_year: int, days: int) -> np.ndarray:
    """Multiplier on usage per day: busier weekends and a gentle December peak."""
    weekday_factor = np.array([0.92, 0.90, 0.92, 0.95, 1.02, 1.28, 1.22])  # Monday first
    day = np.arange(days)
    weekday = (start_weekday + day) % 7
    day_of_year = (start_day_of_year + day) % 365
    season = 1.0 + 0.10 * np.cos(2.0 * math.pi * (day_of_year - 350) / 365.0)
    return weekday_factor[weekday] * season


def _poisson_from_uniform(unit: np.ndarray, rate: np.ndarray, max_count: int = 6) -> np.ndarray:
    """Poisson counts by inverting the CDF, so one uniform per user whatever the rate."""
    term = np.exp(-rate)
    cdf = term.copy()
    count = np.zeros(unit.shape, dtype=np.int8)
    for k in range(1, max_count + 1):
        count += unit > cdf
        term *= rate / k
        cdf += term
    return count


def step_day(
    population: Population,
    state: UserState,
    day: int,
    calendar_factor: float,
    rng: np.random.Generator,
) -> DayActivity:
    """Advance every user of the chunk by one day; return who did what (mutates `state`)."""
    n = population.size
    unit = rng.random((7, n))
    noise = rng.standard_normal((2, n))
    pop = population
    age = day - pop.acquisition_day
    state.alive |= age == 0
    lift = np.where(state.treated_until > day, state.treatment_lift, 0.0)

    rate = pop.base_rate * np.exp(state.log_engagement + 0.5 * lift) * calendar_factor
    rate = np.where(age < ONBOARDING_DAYS, rate * _ONBOARDING_RATE_BOOST, rate)
    sessions = _poisson_from_uniform(unit[0], np.where(state.alive, rate, 0.0))
    sessions = np.where(age == 0, np.maximum(sessions, 1), sessions).astype(np.int8)
    has_session = sessions > 0
    purchase = has_session & (unit[1] < 1.0 - (1.0 - pop.buy_chance) ** sessions)
    bad_purchase = purchase & (unit[2] < pop.refund_chance)
    refund_delay = np.where(bad_purchase, 1 + (unit[3] * (_REFUND_RING - 1)).astype(np.int32), 0)

    slot = day % _REFUND_RING
    refund_today = state.refund_ring[slot].copy()
    state.refund_ring[slot] = False
    unhappy = bad_purchase.nonzero()[0]
    state.refund_ring[(day + refund_delay[unhappy]) % _REFUND_RING, unhappy] = True

    dissatisfaction = 1.0 - state.satisfaction
    ticket_chance = 0.004 * has_session + 0.01 * dissatisfaction + 0.5 * bad_purchase
    ticket = state.alive & (unit[4] < ticket_chance)
    any_event = has_session | ticket | refund_today
    state.last_event_day[any_event] = day
    state.first_event_day[any_event & ~has_been_seen(state)] = day
    state.onboarding_active_days += has_session & (age < ONBOARDING_DAYS)

    state.satisfaction = np.clip(
        state.satisfaction
        + _SATISFACTION_RECOVERY * (pop.satisfaction_base - state.satisfaction)
        - _TICKET_HIT * ticket
        - _BAD_PURCHASE_HIT * bad_purchase,
        0.0,
        1.0,
    )
    state.log_engagement = np.clip(
        state.log_engagement
        + pop.engagement_drift
        + _ENGAGEMENT_NOISE * noise[0]
        + 0.05 * purchase,
        -4.0,
        2.0,
    )

    unactivated = (
        (age >= ONBOARDING_DAYS)
        & (state.onboarding_active_days < _ACTIVATION_MIN_ACTIVE_DAYS)
        & ~state.reactivated
    )
    log_hazard = (
        math.log(_BASE_HAZARD)
        - 0.7 * np.log(pop.base_rate / _MEAN_SESSION_RATE)
        - 0.9 * state.log_engagement
        + _DISSATISFACTION_HAZARD * (1.0 - state.satisfaction)
        + _CHANNEL_LOG_HAZARD[pop.channel]
        + math.log(_UNACTIVATED_HAZARD) * unactivated
        - lift
    )
    recency_factor = np.minimum(1.0 + 0.03 * (day - state.last_event_day), 2.5)
    churn = state.alive & (age > 0) & (unit[5] < np.exp(log_hazard) * recency_factor)

    dormant = (age > 0) & ~state.alive
    # Who comes back: users who used the product often and spent more, and recently enough
    # to remember it (so a recall model has something to learn beyond recency).
    forgotten = np.exp(-(day - state.last_event_day) / _REACTIVATION_MEMORY_DAYS)
    habit = pop.base_rate / _MEAN_SESSION_RATE
    reactivation_chance = (
        _REACTIVATION_RATE
        * _SEGMENT_REACTIVATION[pop.value_segment]
        * habit
        * forgotten
        * np.exp(1.5 * lift)
    )
    comeback = dormant & (unit[6] < reactivation_chance)
    state.alive = (state.alive & ~churn) | comeback
    state.log_engagement = np.where(
        comeback, pop.engagement_start - 0.3 + 0.3 * noise[1], state.log_engagement
    )
    state.satisfaction = np.where(comeback, pop.satisfaction_base, state.satisfaction)
    state.reactivated |= comeback

    user = (has_session | ticket).nonzero()[0].astype(np.int32)
    return DayActivity(
        day=day,
        user=user,
        sessions=sessions[user],
        purchase=purchase[user],
        refund_delay=refund_delay[user].astype(np.int8),
        ticket=ticket[user],
    )
