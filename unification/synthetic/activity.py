"""Behaviour of the population: purchases, visits, newsletters, calls.

Purchases follow a buy-till-you-die process (Pareto/NBD-like, as in BG/NBD): each customer
buys at a Gamma-distributed rate and may drop out after each purchase with a Beta-distributed
probability, so recency / frequency / monetary value and churn are meaningful. The process
runs from the person's first contact (possibly before the period) and only purchases inside
[start, end) are delivered.

Shared context (product catalogue, stores, newsletter calendar) is drawn once per seed in
:class:`World`. All times are ``int64`` epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from unification.synthetic import vocab
from unification.synthetic.params import CorruptionParams
from unification.synthetic.persons import DAY, YEAR

PRODUCTS_PER_CATEGORY = 60
N_STORES = 60
_CAT_CODES = {c: c[:2].upper() + c.split("_")[-1][:1].upper() for c, _, _ in vocab.CATEGORIES}


@dataclass(frozen=True)
class World:
    """What every block shares: catalogue, stores and newsletter calendar (drawn from the seed)."""

    product_id: np.ndarray
    product_category: np.ndarray
    product_price: np.ndarray
    category_offsets: np.ndarray  # first product index of each category
    store_id: np.ndarray
    store_region: np.ndarray
    campaign_id: np.ndarray
    campaign_ts: np.ndarray

    @classmethod
    def build(cls, seed: int, params: CorruptionParams, start_ts: int, end_ts: int) -> World:
        """Draw the shared context for ``seed``."""
        rng = np.random.default_rng(np.random.SeedSequence([seed, 7_919]))
        pid: list[str] = []
        pcat: list[str] = []
        price: list[float] = []
        offsets: list[int] = []
        for cat, _, median in vocab.CATEGORIES:
            offsets.append(len(pid))
            prices = np.round(np.exp(rng.normal(np.log(median), 0.55, PRODUCTS_PER_CATEGORY)))
            for k in range(PRODUCTS_PER_CATEGORY):
                pid.append(f"{_CAT_CODES[cat]}{k + 1:04d}")
                pcat.append(cat)
                price.append(max(float(prices[k]) - 0.01, 2.99))
        city_w = np.array([c[4] for c in vocab.CITIES])
        cities = rng.choice(len(vocab.CITIES), N_STORES, p=city_w / city_w.sum())
        stores = np.array([f"MAG{i + 1:03d}" for i in range(N_STORES)], dtype=object)
        regions = np.array([vocab.CITIES[c][3] for c in cities], dtype=object)
        months = pd.date_range(
            pd.Timestamp(start_ts, unit="s"), pd.Timestamp(end_ts, unit="s"), freq="MS"
        )
        cids, cts = [], []
        for m in months:
            k = int(rng.poisson(params.email_campaigns_per_month))
            days = np.sort(rng.choice(np.arange(1, 28), size=min(k, 27), replace=False))
            for j, d in enumerate(days):
                ts = int((m + pd.Timedelta(days=int(d) - 1, hours=10)).timestamp())
                if start_ts <= ts < end_ts:
                    cids.append(f"NL-{m:%Y-%m}-{j + 1}")
                    cts.append(ts + int(rng.integers(0, 3600)))
        return cls(
            product_id=np.array(pid, dtype=object),
            product_category=np.array(pcat, dtype=object),
            product_price=np.array(price),
            category_offsets=np.array(offsets),
            store_id=stores,
            store_region=regions,
            campaign_id=np.array(cids, dtype=object),
            campaign_ts=np.array(cts, dtype=np.int64),
        )

    def home_stores(self, rng: np.random.Generator, regions: np.ndarray) -> np.ndarray:
        """A store of the person's region when there is one, else any store."""
        out = rng.choice(self.store_id, len(regions))
        for region in np.unique(regions):
            local = self.store_id[self.store_region == region]
            if len(local):
                m = regions == region
                out[m] = rng.choice(local, int(m.sum()))
        return out


def purchases(
    rng: np.random.Generator,
    rate: np.ndarray,
    dropout: np.ndarray,
    begin: np.ndarray,
    start_ts: int,
    end_ts: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the buy-till-you-die process of each person.

    Args:
        rng: generator.
        rate: purchases per year while alive, per person (0 = never buys).
        dropout: probability of dropping out after each purchase, per person.
        begin: first contact per person (first purchase at that time), epoch seconds.
        start_ts: only purchases from here are kept.
        end_ts: end of the period (exclusive).

    Returns:
        (person position, purchase time) of every kept purchase, sorted by person then time.
    """
    who: list[np.ndarray] = []
    when: list[np.ndarray] = []
    active = np.flatnonzero(rate > 0)
    t = begin[active].astype(np.float64)
    for _ in range(400):
        if not len(active):
            break
        keep = t < end_ts
        active, t = active[keep], t[keep]
        inside = t >= start_ts
        who.append(active[inside])
        when.append(t[inside].astype(np.int64))
        alive = rng.random(len(active)) >= dropout[active]
        active, t = active[alive], t[alive]
        t = t + rng.exponential(YEAR / rate[active])
    if not who:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    w, ts = np.concatenate(who), np.concatenate(when)
    order = np.lexsort((ts, w))
    return w[order], ts[order]


def basket_lines(
    rng: np.random.Generator, world: World, affinity: np.ndarray, n_orders: int
) -> pd.DataFrame:
    """Order lines for ``n_orders`` baskets; ``affinity`` is each basket's category weights.

    Returns:
        Columns ``basket`` (0..n_orders-1), ``line_no`` (1-based), ``product_id``,
        ``category``, ``quantity``, ``unit_price``, ``amount``.
    """
    n_lines = 1 + rng.poisson(1.3, n_orders)
    basket = np.repeat(np.arange(n_orders), n_lines)
    line_no = np.arange(len(basket)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    cum = np.cumsum(affinity[basket], axis=1)
    cat = (rng.random(len(basket))[:, None] > cum).sum(axis=1)
    cat = np.minimum(cat, len(vocab.CATEGORIES) - 1)
    prod = world.category_offsets[cat] + rng.integers(0, PRODUCTS_PER_CATEGORY, len(basket))
    qty = 1 + rng.poisson(0.25, len(basket))
    discount = rng.choice([1.0, 0.9, 0.8, 0.7, 0.5], len(basket), p=[0.7, 0.1, 0.1, 0.05, 0.05])
    unit = np.round(world.product_price[prod] * discount, 2)
    return pd.DataFrame(
        {
            "basket": basket,
            "line_no": line_no,
            "product_id": world.product_id[prod],
            "category": world.product_category[prod],
            "quantity": qty,
            "unit_price": unit,
            "amount": np.round(unit * qty, 2),
        }
    )


def category_affinity(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-person category weights (Dirichlet around the market shares)."""
    base = np.array([w for _, w, _ in vocab.CATEGORIES])
    return rng.dirichlet(base * 4.0, n)


def store_time(rng: np.random.Generator, ts: np.ndarray) -> np.ndarray:
    """Move times into store opening hours (9:00-19:30) on the same day."""
    day = ts - ts % DAY
    return day + 9 * 3600 + rng.integers(0, int(10.5 * 3600), len(ts))


def web_time(rng: np.random.Generator, ts: np.ndarray) -> np.ndarray:
    """Move times to a plausible hour of the day (evening peak) on the same day."""
    hours = rng.choice(24, len(ts), p=_HOUR_W)
    return ts - ts % DAY + hours * 3600 + rng.integers(0, 3600, len(ts))


_HOUR_W = np.array(
    [1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 2, 3, 4, 4, 4, 5, 5, 4, 4, 4, 5, 6, 7, 8, 8, 6, 3],
    dtype=float,
)
_HOUR_W = _HOUR_W / _HOUR_W.sum()


def random_uuid(rng: np.random.Generator, n: int) -> np.ndarray:
    """Version-4-looking UUID strings."""
    h = rng.bytes(16 * n).hex()
    out = []
    for i in range(0, 32 * n, 32):
        x = h[i : i + 32]
        out.append(f"{x[:8]}-{x[8:12]}-4{x[13:16]}-a{x[17:20]}-{x[20:32]}")
    return np.array(out, dtype=object)


def sessions_events(
    rng: np.random.Generator,
    session_ts: np.ndarray,
    logged: np.ndarray,
    purchase: np.ndarray,
) -> pd.DataFrame:
    """Expand sessions into page events.

    Args:
        rng: generator.
        session_ts: session start times.
        logged: session is logged in (first event is a ``login``).
        purchase: session ends with a ``purchase``.

    Returns:
        Columns ``session`` (position in the inputs), ``seq``, ``event_name``, ``ts``.
    """
    n = len(session_ts)
    n_login = logged.astype(int)
    n_pv = 1 + rng.poisson(1.2, n)
    n_prod = rng.poisson(1.0, n) + purchase
    n_cart = np.where(purchase, 1 + rng.poisson(0.3, n), rng.random(n) < 0.12).astype(int)
    n_buy = purchase.astype(int)
    total = n_login + n_pv + n_prod + n_cart + n_buy
    sess = np.repeat(np.arange(n), total)
    pos = np.arange(len(sess)) - np.repeat(np.cumsum(total) - total, total)
    b1 = n_login[sess]
    b2 = b1 + n_pv[sess]
    b3 = b2 + n_prod[sess]
    b4 = b3 + n_cart[sess]
    name = np.select(
        [pos < b1, pos < b2, pos < b3, pos < b4],
        ["login", "page_view", "product_view", "add_to_cart"],
        "purchase",
    ).astype(object)
    ts = session_ts[sess] + pos * 45 + rng.integers(0, 40, len(sess))
    return pd.DataFrame({"session": sess, "seq": pos, "event_name": name, "ts": ts})
