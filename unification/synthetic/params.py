"""Documented rates of the synthetic generator: coverage, population structure, corruption.

Every rate is a probability in [0, 1] unless its name says otherwise. Rates apply per
person, per record or per field as stated. Defaults give a realistic, hard-to-match demo
set; set a rate to 0 to switch that difficulty off (e.g. in a test).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class CorruptionParams:
    """Rates and behaviour parameters of :func:`unification.synthetic.generate`.

    Examples:
        ```py
        from unification.synthetic import CorruptionParams, generate
        clean = CorruptionParams(p_typo_name=0.0, p_email_typo=0.0, p_dup_ecommerce=0.0)
        generate("/tmp/demo", n_persons=500, params=clean)
        ```
    """

    # ---- coverage: share of persons holding a record in each source (per person)
    p_ecommerce: float = 0.60  #: has an e-commerce account
    p_loyalty: float = 0.50  #: has a store loyalty card
    p_crm: float = 0.15  #: known to the call centre (3x likelier for customers than prospects)
    p_email: float = 0.55  #: subscribed to the newsletter (prospects often only here)
    p_web: float = 0.75  #: visits the web site with a cookie (logged in only if e-commerce)
    anonymous_cookies_per_person: float = 0.5  #: extra never-logged-in cookies, per person
    anonymous_ticket_share: float = 0.25  #: store tickets of walk-in shoppers, share of all tickets
    p_ticket_without_card: float = 0.15  #: a loyalty member's ticket scanned without the card

    # ---- population structure (per person)
    p_household: float = 0.15  #: lives with another generated person (shared address, landline)
    p_household_shared_email: float = 0.25  #: per household: members share a family e-mail
    p_household_same_first_name: float = 0.08  #: per household: parent and child share a name
    p_homonym: float = 0.03  #: same first + last name and city as another person
    p_married_name: float = 0.35  #: per woman: uses a married name (birth name differs)
    p_marriage_in_window: float = 0.02  #: changes name (marriage) during the period
    p_move: float = 0.08  #: moves house during the period (old address stays in some sources)
    p_second_email: float = 0.15  #: uses a second personal e-mail in some sources
    p_landline: float = 0.35  #: has a landline

    # ---- duplicates inside one source (per record: a second record of the same person)
    p_dup_ecommerce: float = 0.03  #: second account, often with the second e-mail
    p_dup_loyalty: float = 0.04  #: second card (lost card, new card)
    p_dup_crm: float = 0.05  #: contact created twice by agents
    p_dup_email: float = 0.04  #: subscribed twice (two addresses or case variants)

    # ---- field corruption (per record and field)
    p_typo_name: float = 0.03  #: one edit (substitution, deletion, transposition, doubling)
    p_swap_names: float = 0.01  #: first and last name swapped
    p_strip_accents: float = 0.25  #: accents lost (sources that keep them otherwise)
    p_case_noise: float = 0.15  #: name typed in upper or lower case
    p_compound_variant: float = 0.3  #: Jean-Pierre -> Jean Pierre / Jean / J-P
    p_particle_variant: float = 0.4  #: particle written differently (de La Tour -> Delatour)
    p_missing_birth_date: float = (
        0.2  #: birth date not given (e-commerce x2, stores x0.5, CRM x1.5)
    )
    p_birth_date_error: float = 0.02  #: day/month swapped or a digit typo
    p_birth_date_placeholder: float = 0.01  #: placeholder 01/01/1900
    p_missing_phone: float = 0.15  #: phone not given
    p_phone_other_format: float = 0.35  #: phone not written in the source's usual format
    p_missing_email: float = 0.08  #: e-mail not given (CRM: x2, stores: x4)
    p_email_typo: float = 0.02  #: typo in the domain or the local part
    p_email_case: float = 0.10  #: e-mail with capitals
    p_email_plus_tag: float = 0.03  #: plus-tag added (jean+shop@gmail.com)
    p_email_dots: float = 0.03  #: dots removed/added in a Gmail local part
    p_missing_address: float = 0.05  #: address not given
    p_address_variant: float = 0.3  #: street type abbreviated / upper-cased
    p_postcode_error: float = 0.01  #: digit typo or leading zero lost (01000 -> 1000)
    p_malformed_row: float = 0.0005  #: e-commerce order with an unparsable amount (quarantine)

    # ---- consent (per record and channel)
    p_consent_change: float = 0.15  #: the person changes their mind once during the period
    p_consent_noise: float = 0.05  #: a source holds a flag contradicting the person's choice

    # ---- behaviour
    purchase_rate_shape: float = 0.9  #: Gamma shape of purchases per year (heterogeneity)
    purchase_rate_scale: float = 2.2  #: Gamma scale of purchases per year (mean = shape*scale)
    dropout_a: float = 1.0  #: Beta a of the dropout probability after each purchase
    dropout_b: float = 6.0  #: Beta b of the dropout probability after each purchase
    online_share_a: float = 1.2  #: Beta a of a two-channel customer's online share
    online_share_b: float = 1.5  #: Beta b of a two-channel customer's online share
    email_campaigns_per_month: float = 1.5  #: newsletters sent per month
    p_campaign_target: float = 0.5  #: a subscriber is targeted by a campaign
    web_sessions_per_year: float = 1.5  #: mean browsing sessions per visitor and year
    crm_interactions_mean: float = 2.0  #: mean call-centre interactions per contact

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("p_") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be in [0, 1], got {value}")
            if not f.name.startswith("p_") and value < 0:
                raise ValueError(f"{f.name} must be >= 0, got {value}")

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (written next to the data)."""
        return asdict(self)
