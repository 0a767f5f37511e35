"""BG/NBD and Gamma-Gamma customer lifetime value: maximum-likelihood fits and predictions.

Pure numpy / scipy, on per-customer sufficient statistics (optionally aggregated with
``weights`` = how many customers share a row), so the fit never needs per-customer data on the
driver: Spark groups customers by (frequency, recency, T) and only the bounded table of
groups is collected (:mod:`unification.features.clv_spark`).

Notation (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):

* ``x`` (frequency): repeat purchases, i.e. purchase periods after the first one;
* ``t_x`` (recency): time from the first to the last purchase;
* ``T``: time from the first purchase to the end of observation;
* ``m`` (monetary): mean value of the repeat purchases (Gamma-Gamma; Fader & Hardie 2013).

BG/NBD parameters ``r, alpha`` (gamma heterogeneity of the purchase rate) and ``a, b`` (beta
heterogeneity of the dropout probability); Gamma-Gamma ``p, q, v``.

Examples:
    ```py
    bg = fit_bgnbd(frequency, recency, T)          # arrays; weights optional
    bgnbd_p_alive(bg, frequency, recency, T)
    bgnbd_expected_purchases(bg, 52, frequency, recency, T)
    gg = fit_gamma_gamma(frequency[frequency > 0], monetary[frequency > 0])
    customer_lifetime_value(bg, gg, frequency, recency, T, monetary, periods=12,
                            period_length=30 / 7, discount_rate=0.008)
    ```
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

logger = logging.getLogger(__name__)

Array = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdParams:
    """Fitted BG/NBD parameters, the maximised log-likelihood and the customers fitted."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    n_customers: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """The parameters and fit summary as a plain dict (for the run log)."""
        return asdict(self)


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters, the maximised log-likelihood and the customers fitted."""

    p: float
    q: float
    v: float
    log_likelihood: float = float("nan")
    n_customers: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """The parameters and fit summary as a plain dict (for the run log)."""
        return asdict(self)


def _arrays(*values: ArrayLike) -> list[Array]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def _weights(weights: ArrayLike | None, n: int) -> Array:
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be non-negative, one per row, not all zero")
    return w


def _maximise(nll: Callable[[Array], float], x0: Array) -> tuple[Array, float]:
    """Minimise a mean negative log-likelihood over log-parameters (L-BFGS-B, then a
    Nelder-Mead polish for the last digits)."""
    bounds = [(-12.0, 12.0)] * len(x0)
    first = minimize(nll, x0, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-14})
    polish = minimize(
        nll,
        first.x,
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-13, "maxiter": 20_000, "maxfev": 40_000},
    )
    best = polish if polish.fun <= first.fun else first
    if not np.isfinite(best.fun):
        raise ValueError("the likelihood could not be maximised (degenerate data?)")
    return np.asarray(best.x), float(best.fun)


# --------------------------------------------------------------------------- BG/NBD
def bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, T: Array
) -> Array:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6)."""
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4))


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> BgNbdParams:
    """Fit the BG/NBD model by maximum likelihood.

    Args:
        frequency: repeat purchases per customer (or per group of identical customers).
        recency: time between first and last purchase (0 when ``frequency`` is 0).
        T: time between first purchase and the end of observation.
        weights: number of customers each row stands for (default 1).

    Returns:
        The maximum-likelihood parameters.
    """
    x, t_x, big_t = _arrays(frequency, recency, T)
    w = _weights(weights, len(x))
    if np.any(t_x > big_t + 1e-9) or np.any(x < 0):
        raise ValueError("need 0 <= recency <= T and frequency >= 0")
    total = w.sum()

    def nll(log_params: Array) -> float:
        r, alpha, a, b = np.exp(log_params)
        ll = bgnbd_log_likelihood(r, alpha, a, b, x, t_x, big_t)
        value = -float(np.dot(w, ll) / total)
        return value if np.isfinite(value) else 1e300

    x0 = np.log(np.array([1.0, max(float(np.average(big_t, weights=w)), 1e-3), 1.0, 1.0]))
    best, fun = _maximise(nll, x0)
    r, alpha, a, b = (float(v) for v in np.exp(best))
    return BgNbdParams(r, alpha, a, b, log_likelihood=float(-fun * total), n_customers=float(total))


def bgnbd_p_alive(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Array:
    """P(alive | x, t_x, T). Equal to 1 for every customer with ``frequency`` 0."""
    x, t_x, big_t = _arrays(frequency, recency, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
        )
        p = 1.0 / (1.0 + np.exp(log_ratio))
    return np.asarray(np.where(x > 0, p, 1.0))


def bgnbd_expected_purchases(
    params: BgNbdParams, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Array:
    """E[purchases in (T, T + t] | x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10)."""
    x, t_x, big_t = _arrays(frequency, recency, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if t <= 0:
        return np.zeros_like(x)
    z = t / (alpha + big_t + t)
    head = (a + b + x - 1) / (a - 1)
    body = 1.0 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(
        r + x, b + x, a + b + x - 1, z
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        odds = np.where(
            x > 0,
            a / np.maximum(b + x - 1, 1e-300) * ((alpha + big_t) / (alpha + t_x)) ** (r + x),
            0.0,
        )
    return np.asarray(head * body / (1.0 + odds))


def bgnbd_p_purchase(
    params: BgNbdParams, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Array:
    """P(at least one purchase in (T, T + t] | x, t_x, T).

    A BG/NBD customer drops out only right after a purchase, so an alive customer makes no
    purchase in the next ``t`` with probability ``E[exp(-lambda t)]`` under the posterior
    ``lambda ~ Gamma(r + x, alpha + T)``:
    ``P = P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x))``. Unlike P(alive) it
    also decreases for one-time buyers as time passes without a second purchase.
    """
    x, _, big_t = _arrays(frequency, recency, T)
    alive = bgnbd_p_alive(params, frequency, recency, T)
    none_if_alive = ((params.alpha + big_t) / (params.alpha + big_t + t)) ** (params.r + x)
    return np.asarray(alive * (1.0 - none_if_alive))


# --------------------------------------------------------------------------- Gamma-Gamma
def gamma_gamma_log_likelihood(p: float, q: float, v: float, x: Array, m: Array) -> Array:
    """Per-customer Gamma-Gamma log-likelihood of mean spend ``m`` over ``x`` purchases."""
    px = p * x
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )


def fit_gamma_gamma(
    frequency: ArrayLike, monetary: ArrayLike, weights: ArrayLike | None = None
) -> GammaGammaParams:
    """Fit the Gamma-Gamma spend model by maximum likelihood.

    Args:
        frequency: repeat purchases (> 0) of returning customers.
        monetary: their mean repeat-purchase value (> 0).
        weights: number of customers each row stands for (default 1).

    Returns:
        The maximum-likelihood parameters.
    """
    x, m = _arrays(frequency, monetary)
    w = _weights(weights, len(x))
    if np.any(x <= 0) or np.any(m <= 0):
        raise ValueError("Gamma-Gamma needs frequency > 0 and monetary > 0 (returning customers)")
    total = w.sum()

    def nll(log_params: Array) -> float:
        p, q, v = np.exp(log_params)
        value = -float(np.dot(w, gamma_gamma_log_likelihood(p, q, v, x, m)) / total)
        return value if np.isfinite(value) else 1e300

    x0 = np.log(np.array([1.0, 1.0, max(float(np.average(m, weights=w)), 1e-3)]))
    best, fun = _maximise(nll, x0)
    p, q, v = (float(val) for val in np.exp(best))
    return GammaGammaParams(p, q, v, log_likelihood=float(-fun * total), n_customers=float(total))


def gamma_gamma_expected_spend(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> Array:
    """E[spend per purchase | x, m]: ``p (v + x m) / (p x + q - 1)``.

    For ``frequency`` 0 this is the population mean ``p v / (q - 1)`` (``monetary`` unused).
    """
    x, m = _arrays(frequency, monetary)
    m = np.where(x > 0, np.nan_to_num(m), 0.0)
    p, q, v = params.p, params.q, params.v
    return np.asarray(p * (v + x * m) / (p * x + q - 1))


def customer_lifetime_value(
    bg: BgNbdParams,
    gg: GammaGammaParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary: ArrayLike,
    *,
    periods: int,
    period_length: float,
    discount_rate: float,
) -> Array:
    """Discounted value of the expected purchases over ``periods`` periods.

    ``sum_i (E[N(i L)] - E[N((i - 1) L)]) * E[spend] / (1 + d) ** i`` with ``L`` the period
    length in model time units and ``d`` the discount rate per period (the DCF form used by
    the ``lifetimes`` package).
    """
    spend = gamma_gamma_expected_spend(gg, frequency, monetary)
    total = np.zeros_like(spend)
    previous = np.zeros_like(spend)
    for i in range(1, periods + 1):
        current = bgnbd_expected_purchases(bg, i * period_length, frequency, recency, T)
        total += (current - previous) * spend / (1.0 + discount_rate) ** i
        previous = current
    return total
