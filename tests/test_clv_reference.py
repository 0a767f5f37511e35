"""BG/NBD and Gamma-Gamma against their published estimates on the CDNOW reference data.

The data ship with the ``lifetimes`` package (a dev dependency); it is read as CSV from the
installed package folder, without importing ``lifetimes``. Published values:

* BG/NBD on CDNOW (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
  r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, log-likelihood -9582.4.
* Gamma-Gamma on its 946 returning customers (Fader & Hardie 2013, "The Gamma-Gamma model of
  monetary value"; lifetimes' quickstart): p = 6.25, q = 3.74, v = 15.44.
* Predictions printed in lifetimes' quickstart (docs/Quickstart.md) for the same fits.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from unification.features.clv import (
    BgNbdParams,
    bgnbd_expected_purchases,
    bgnbd_p_alive,
    bgnbd_p_purchase,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
)


def _datasets() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the lifetimes package (reference data) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """CDNOW: frequency x, recency t_x, age T (weeks) and mean repeat spend zbar."""
    df = pd.read_csv(_datasets() / "cdnow_customers_summary_with_transactions.csv")
    summary = pd.read_csv(_datasets() / "cdnow_customers_summary.csv")
    assert len(df) == len(summary) == 2357
    assert np.allclose(df[["x", "t_x", "T"]].to_numpy(), summary[["frequency", "recency", "T"]])
    return df


def _sig3(value: float) -> str:
    return f"{value:.3g}"


def test_bgnbd_reproduces_published_estimates(cdnow: pd.DataFrame) -> None:
    bg = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert _sig3(getattr(bg, name)) == _sig3(value), (name, getattr(bg, name))
    assert bg.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert bg.n_customers == 2357


def test_bgnbd_fit_on_aggregated_groups_is_the_same(cdnow: pd.DataFrame) -> None:
    groups = cdnow.groupby(["x", "t_x", "T"]).size().reset_index(name="n")
    assert len(groups) < len(cdnow)
    bg = fit_bgnbd(groups["x"], groups["t_x"], groups["T"], weights=groups["n"])
    assert (round(bg.r, 3), round(bg.alpha, 2), round(bg.a, 3), round(bg.b, 2)) == (
        0.243,
        4.41,
        0.793,
        2.43,
    )
    assert bg.n_customers == 2357


def test_gamma_gamma_reproduces_published_estimates(cdnow: pd.DataFrame) -> None:
    returning = cdnow[cdnow["x"] > 0]
    assert len(returning) == 946
    gg = fit_gamma_gamma(returning["x"], returning["zbar"])
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert _sig3(getattr(gg, name)) == _sig3(value), (name, getattr(gg, name))


def test_predictions_match_lifetimes_quickstart(cdnow: pd.DataFrame) -> None:
    bg = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    # top of "predicted purchases in the next period" (t = 1 week)
    top = bgnbd_expected_purchases(
        bg, 1.0, [26, 29, 18], [30.86, 37.71, 35.14], [31.0, 38.0, 35.86]
    )
    assert top == pytest.approx([0.710623, 0.662396, 0.424877], abs=2e-6)

    returning = cdnow[cdnow["x"] > 0]
    gg = fit_gamma_gamma(returning["x"], returning["zbar"])
    first10 = cdnow.iloc[:10]
    spend = gamma_gamma_expected_spend(gg, first10["x"], first10["zbar"])
    assert spend == pytest.approx(
        [24.658619, 18.911489, 35.170981, 35.170981, 35.170981, 71.462843, 18.911489,
         35.170981, 27.282408, 35.170981],
        abs=5e-5,
    )  # fmt: skip
    assert gamma_gamma_expected_spend(gg, cdnow["x"], cdnow["zbar"]).mean() == pytest.approx(
        35.2529588256, abs=1e-4
    )
    # CLV over 12 periods of 30 time units at 1 % per period (lifetimes' DCF example)
    clv = customer_lifetime_value(
        bg,
        gg,
        first10["x"],
        first10["t_x"],
        first10["T"],
        first10["zbar"],
        periods=12,
        period_length=30.0,
        discount_rate=0.01,
    )
    assert clv == pytest.approx(
        [140.096211, 18.943467, 38.180574, 38.180574, 38.180574, 1003.868107, 28.109683,
         38.180574, 167.418216, 38.180574],
        rel=1e-5,
    )  # fmt: skip


def test_p_alive_properties() -> None:
    bg = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    # one-time buyers: P(alive) is 1 whatever their age, which is why churn uses p_purchase
    assert bgnbd_p_alive(bg, [0, 0], [0.0, 0.0], [1.0, 60.0]) == pytest.approx([1.0, 1.0])
    p = bgnbd_p_purchase(bg, 13.0, [0, 0], [0.0, 0.0], [1.0, 60.0])
    assert 0 < p[1] < p[0] < 1
    # a frequent buyer silent for a long time is less likely alive than a recent one
    alive = bgnbd_p_alive(bg, [10, 10], [38.0, 10.0], [39.0, 39.0])
    assert alive[0] > 0.9 > alive[1]
    assert bgnbd_expected_purchases(bg, 0.0, [3], [5.0], [10.0]) == pytest.approx([0.0])


def test_fit_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="recency"):
        fit_bgnbd([1], [5.0], [2.0])
    with pytest.raises(ValueError, match="returning"):
        fit_gamma_gamma([0, 1], [10.0, 12.0])
