"""Typed settings of the ``features`` stage (section ``features:`` of the run config).

Defaults live here; ``conf/base.yml`` overrides them. The lifecycle stages and the RFM segment
map are data, not code: each is an ordered list whose first matching rule wins.

Examples:
    ```yaml
    features:
      horizon_days: 60
      lifecycle:
        stages:
          - {name: lapsed, when: "is_customer AND recency_days > 400"}
          ...
    ```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from unification.interactions.settings import InteractionSettings


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RfmSegment(_Model):
    """One cell range of the R x F grid (scores 1..5, bounds inclusive)."""

    name: str
    r: tuple[int, int]
    f: tuple[int, int]

    @field_validator("r", "f")
    @classmethod
    def _score_range(cls, value: tuple[int, int]) -> tuple[int, int]:
        lo, hi = value
        if not 1 <= lo <= hi <= 5:
            raise ValueError("a score range is [low, high] with 1 <= low <= high <= 5")
        return value


def _default_segments() -> list[RfmSegment]:
    # The widely used R x F grid (R = recency score, F = frequency score). It covers the 25
    # cells exactly once; see docs/FEATURES.md.
    grid = [
        ("Champions", (5, 5), (4, 5)),
        ("Loyal customers", (3, 4), (4, 5)),
        ("Potential loyalists", (4, 5), (2, 3)),
        ("New customers", (5, 5), (1, 1)),
        ("Promising", (4, 4), (1, 1)),
        ("Need attention", (3, 3), (3, 3)),
        ("About to sleep", (3, 3), (1, 2)),
        ("Can't lose them", (1, 2), (5, 5)),
        ("At risk", (1, 2), (3, 4)),
        ("Hibernating", (1, 2), (1, 2)),
    ]
    return [RfmSegment(name=n, r=r, f=f) for n, r, f in grid]


class RfmSettings(_Model):
    """RFM quintile scoring."""

    quantile_relative_error: float = Field(
        default=0.001, ge=0.0, le=0.1, description="of the approximate quintile boundaries"
    )
    segments: list[RfmSegment] = Field(default_factory=_default_segments)


class LifecycleStage(_Model):
    """A lifecycle stage: a Spark SQL condition over ``gold.customer_features`` columns."""

    name: str
    when: str
    description: str = ""


def _default_stages() -> list[LifecycleStage]:
    return [
        LifecycleStage(
            name="lapsed",
            when="is_customer AND recency_days > 365",
            description="a customer whose last order is more than a year old",
        ),
        LifecycleStage(
            name="at_risk",
            when="is_customer AND recency_days > 180",
            description="a customer with no order for more than 6 months",
        ),
        LifecycleStage(
            name="vip",
            when="is_customer AND order_count >= 3 AND rfm_m = 5",
            description="VIP / ambassador: 3+ orders and in the top spend quintile",
        ),
        LifecycleStage(
            name="repeat_customer",
            when="is_customer AND order_count >= 2",
            description="a customer with at least two orders",
        ),
        LifecycleStage(
            name="new_customer",
            when="is_customer",
            description="a customer with exactly one (recent) order",
        ),
        LifecycleStage(
            name="prospect",
            when="email_events_total > 0 OR contacts_total > 0",
            description="known, engaged by email or the contact centre, never bought",
        ),
        LifecycleStage(
            name="visitor",
            when="true",
            description="known only through web visits or an account; never bought",
        ),
    ]


class LifecycleSettings(_Model):
    """Lifecycle stages (ordered, first match wins) and the trigger feed."""

    customer_definition: str = Field(
        default="order_count >= 1",
        description="the one meaning of 'customer' (column is_customer): at least one valid "
        "order before as_of",
    )
    stages: list[LifecycleStage] = Field(default_factory=_default_stages)
    emit_initial_transitions: bool = Field(
        default=False,
        description="on the first snapshot (no earlier as_of), emit a transition for every "
        "customer (from_stage null); off by default so a first run does not flood triggers",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> LifecycleSettings:
        names = [s.name for s in self.stages]
        if not names:
            raise ValueError("at least one lifecycle stage is required")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"lifecycle stage name(s) {dupes} declared more than once")
        return self


class ClvSettings(_Model):
    """BG/NBD + Gamma-Gamma customer lifetime value."""

    time_unit_days: int = Field(
        default=7, gt=0, description="model time unit (7 = weeks, as in the CDNOW reference)"
    )
    horizon_days: int = Field(default=365, gt=0, description="CLV horizon")
    period_days: int = Field(default=30, gt=0, description="discounting period")
    annual_discount_rate: float = Field(default=0.10, ge=0.0, lt=1.0)
    min_customers: int = Field(default=30, ge=1, description="below this, CLV is not fitted")
    min_repeat_customers: int = Field(default=10, ge=1)
    max_fit_groups: int = Field(
        default=200_000,
        gt=0,
        description="bound on the (frequency, recency, T) groups collected to fit BG/NBD; "
        "above it customers are sampled",
    )
    max_gamma_gamma_rows: int = Field(default=200_000, gt=0)
    seed: int = 7


class PropensitySettings(_Model):
    """Purchase propensity (Spark MLlib) trained on a time split."""

    model: Literal["logistic", "gbt"] = "logistic"
    holdout_percent: int = Field(
        default=20, ge=5, le=50, description="customers held out (by hash) to evaluate"
    )
    reg_param: float = Field(default=0.01, ge=0.0)
    max_iter: int = Field(default=100, gt=0)
    min_train_rows: int = Field(default=50, ge=10)
    min_positives: int = Field(default=5, ge=1)


class FeatureSettings(_Model):
    """Settings of the 360 view and features stage. Defaults live here; YAML overrides them."""

    horizon_days: int = Field(
        default=90,
        gt=0,
        description="N of 'purchase in the next N days': propensity label, churn label, "
        "expected purchases and P(purchase) horizon",
    )
    lookback_days: int = Field(
        default=365, gt=0, description="window of channel appetence and engagement features"
    )
    excluded_order_statuses: list[str] = Field(
        default_factory=lambda: ["cancelled", "canceled", "returned", "refunded", "void", "failed"],
        description="orders with these statuses (case-insensitive) are not purchases",
    )
    email_send_types: list[str] = Field(default_factory=lambda: ["send", "sent", "delivered"])
    email_open_types: list[str] = Field(default_factory=lambda: ["open", "opened"])
    email_click_types: list[str] = Field(default_factory=lambda: ["click", "clicked"])
    rfm: RfmSettings = Field(default_factory=RfmSettings)
    clv: ClvSettings = Field(default_factory=ClvSettings)
    propensity: PropensitySettings = Field(default_factory=PropensitySettings)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    interactions: InteractionSettings = Field(default_factory=InteractionSettings)
