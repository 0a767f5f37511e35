"""The true population of one block of persons: who they are, where they live, what they do.

A block is the unit of randomness (its generator is seeded by ``(seed, block index)``), so
the output does not depend on how blocks are grouped into written chunks. Times are ``int64``
epoch seconds; birth dates are ``datetime64[D]``.

Population structure created here (the difficulties of matching, on purpose):

- households: consecutive persons sharing an address, a landline and sometimes a family
  e-mail (different people who must stay apart), sometimes a parent and child with the same
  first name;
- homonyms: persons copying another person's first and last name and city;
- married names (birth name kept apart), name changes and moves during the period;
- a second personal e-mail for some.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from unidecode import unidecode

from unification.synthetic import vocab
from unification.synthetic.corrupt import NA
from unification.synthetic.params import CorruptionParams

DAY = 86_400
YEAR = 365.25 * DAY
CHANNELS: tuple[str, ...] = ("email", "sms", "phone", "post")
_CONSENT_BASE = {"email": 0.65, "sms": 0.35, "phone": 0.25, "post": 0.5}
FIRST_SEEN_FLOOR = int(pd.Timestamp("2019-01-01").timestamp())


@dataclass
class Registry:
    """E-mails and phone numbers already handed out (keeps them unique across blocks).

    Memory grows with the number of persons (a few strings each), never with records.
    """

    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)

    @staticmethod
    def mailbox(email: str) -> str:
        """The mailbox an address delivers to: Gmail ignores dots in the user name.

        Two people never share a mailbox, so ``nathalie.martin@gmail.com`` and
        ``nathaliemartin@gmail.com`` cannot belong to two different persons.
        """
        local, domain = email.lower().split("@", 1)
        if domain == "gmail.com":
            local = local.replace(".", "")
        return f"{local}@{domain}"

    def unique_emails(self, rng: np.random.Generator, emails: list[str]) -> list[str]:
        """Make each mailbox unique by appending digits to the local part when already taken."""
        out = []
        for email in emails:
            cand = email
            while self.mailbox(cand) in self.emails:
                local, domain = email.split("@", 1)
                cand = f"{local}{int(rng.integers(1, 999))}@{domain}"
            self.emails.add(self.mailbox(cand))
            out.append(cand)
        return out

    def unique_phones(self, rng: np.random.Generator, prefixes: np.ndarray) -> list[str]:
        """Draw one unused 10-digit number per national prefix (``06``, ``01``, ``0262``...)."""
        out = []
        for prefix in prefixes:
            while True:
                rest = 10 - len(prefix)
                cand = prefix + str(int(rng.integers(0, 10**rest))).zfill(rest)
                if cand not in self.phones:
                    break
            self.phones.add(cand)
            out.append(cand)
        return out


def _zipf_weights(n: int, offset: float = 6.0) -> np.ndarray:
    w = 1.0 / (np.arange(n) + offset)
    return w / w.sum()


_W_FEMALE = _zipf_weights(len(vocab.FEMALE_FIRST))
_W_MALE = _zipf_weights(len(vocab.MALE_FIRST))
_W_LAST = _zipf_weights(len(vocab.LAST_NAMES), 4.0)
_CITY_W = np.array([c[4] for c in vocab.CITIES])
_CITY_W = _CITY_W / _CITY_W.sum()
_ST_W = np.array([w for _, w in vocab.STREET_TYPES])
_ST_W = _ST_W / _ST_W.sum()
_DOM_W = np.array([w for _, w in vocab.EMAIL_DOMAINS])
_DOM_W = _DOM_W / _DOM_W.sum()


def _first_names(rng: np.random.Generator, gender: np.ndarray) -> np.ndarray:
    n = len(gender)
    fem = rng.choice(vocab.FEMALE_FIRST, n, p=_W_FEMALE)
    mal = rng.choice(vocab.MALE_FIRST, n, p=_W_MALE)
    fem_c = rng.choice(vocab.FEMALE_COMPOUND, n)
    mal_c = rng.choice(vocab.MALE_COMPOUND, n)
    compound = rng.random(n) < 0.12
    return np.where(
        gender == "F", np.where(compound, fem_c, fem), np.where(compound, mal_c, mal)
    ).astype(object)


def _last_names(rng: np.random.Generator, n: int) -> np.ndarray:
    plain = rng.choice(vocab.LAST_NAMES, n, p=_W_LAST)
    particle = rng.choice(vocab.PARTICLE_NAMES, n)
    return np.where(rng.random(n) < 0.05, particle, plain).astype(object)


def _addresses(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    city_idx = rng.choice(len(vocab.CITIES), n, p=_CITY_W)
    postcodes = np.array([rng.choice(vocab.CITIES[i][1]) for i in city_idx], dtype=object)
    number = np.minimum(rng.geometric(0.03, n), 250).astype(object)
    suffix = rng.choice(["", " bis", " ter"], n, p=[0.95, 0.04, 0.01])
    line2 = np.where(rng.random(n) < 0.15, rng.choice(vocab.ADDRESS_LINE2, n), NA)
    return {
        "street_no": np.array(
            [f"{a}{b}" for a, b in zip(number, suffix, strict=True)], dtype=object
        ),
        "street_type": rng.choice([s for s, _ in vocab.STREET_TYPES], n, p=_ST_W).astype(object),
        "street_name": rng.choice(vocab.STREET_NAMES, n).astype(object),
        "line2": line2.astype(object),
        "postcode": postcodes,
        "city": np.array([vocab.CITIES[i][0] for i in city_idx], dtype=object),
        "region": np.array([vocab.CITIES[i][3] for i in city_idx], dtype=object),
    }


def ascii_slug(text: str, sep: str = "") -> str:
    """Lower-case ASCII form of a name for e-mail local parts (``Le Gall`` -> ``legall``)."""
    s = unidecode(text).lower().replace("'", "").replace(" ", sep)
    return s.replace("-", sep if sep else "-")


def _email_locals(
    rng: np.random.Generator, first: np.ndarray, last: np.ndarray, birth_year: np.ndarray
) -> list[str]:
    pats = rng.choice(8, len(first), p=[0.33, 0.12, 0.12, 0.12, 0.05, 0.06, 0.08, 0.12])
    digits = rng.integers(1, 999, len(first))
    out = []
    for f_, l_, y, pat, d in zip(first, last, birth_year, pats, digits, strict=True):
        f, lst = ascii_slug(f_), ascii_slug(l_, "")
        local = (
            f"{f}.{lst}",
            f"{f}{lst}",
            f"{f[0]}{lst}",
            f"{f}.{lst}{int(y) % 100:02d}",
            f"{f}_{lst}",
            f"{lst}.{f}",
            f"{f}{d}",
            f"{f}.{lst}{d}",
        )[pat]
        out.append(local)
    return out


def _emails(
    rng: np.random.Generator,
    reg: Registry,
    first: np.ndarray,
    last: np.ndarray,
    birth_year: np.ndarray,
) -> list[str]:
    locals_ = _email_locals(rng, first, last, birth_year)
    domains = rng.choice([d for d, _ in vocab.EMAIL_DOMAINS], len(first), p=_DOM_W)
    return reg.unique_emails(rng, [f"{lo}@{do}" for lo, do in zip(locals_, domains, strict=True)])


def _household_units(rng: np.random.Generator, n: int, p_household: float) -> np.ndarray:
    """Household index per person; persons in a multi-person household come first."""
    k_multi = int(rng.binomial(n, p_household))
    sizes: list[int] = []
    while sum(sizes) < k_multi:
        sizes.append(int(rng.choice([2, 3, 4], p=[0.6, 0.25, 0.15])))
    if sizes and sum(sizes) > k_multi:
        sizes[-1] -= sum(sizes) - k_multi
        if sizes[-1] < 2:
            sizes.pop()
    multi = sum(sizes)
    unit = np.concatenate([np.repeat(np.arange(len(sizes)), sizes), -np.ones(n - multi, int)])
    return unit.astype(int)


def block_persons(
    rng: np.random.Generator,
    block: int,
    first_index: int,
    n: int,
    params: CorruptionParams,
    start_ts: int,
    end_ts: int,
    registry: Registry,
) -> pd.DataFrame:
    """Draw the true persons of one block.

    Args:
        rng: the block's generator.
        block: block index (used in household / homonym group ids).
        first_index: global index of the block's first person.
        n: persons in the block.
        params: the rates.
        start_ts: period start, epoch seconds.
        end_ts: period end (exclusive), epoch seconds.
        registry: e-mails and phones already used.

    Returns:
        One row per person (``person_id`` ...), see the module docstring.
    """
    p = params
    idx = np.arange(n)
    unit = _household_units(rng, n, p.p_household)
    in_hh = unit >= 0
    head = idx.copy()  # first member of the household (or the person alone)
    if in_hh.any():
        head[in_hh] = np.searchsorted(unit[in_hh], unit[in_hh], side="left")
    is_head = head == idx
    rank = idx - head
    partner = in_hh & (rank == 1)
    child = in_hh & (rank >= 2)
    # a parent and an adult child with the same first name (Jean Dupont and Jean Dupont)
    same_first = partner & (rng.random(n) < p.p_household_same_first_name)
    child |= same_first
    partner &= ~same_first

    gender = np.where(rng.random(n) < 0.52, "F", "M").astype(object)
    gender = np.where(partner, np.where(gender[head] == "F", "M", "F"), gender)
    first = _first_names(rng, gender)
    gender = np.where(same_first, gender[head], gender)
    first = np.where(same_first, first[head], first).astype(object)
    birth_name = _last_names(rng, n)
    age = 18 + 67 * rng.beta(2.0, 2.6, n)
    age = np.where(partner, age[head] + rng.normal(0, 4, n), age)
    # adult children: a parent's age minus 22-35 years, redrawn between 18 and 24 when that is
    # under 18 (clamping would give hundreds of people the same 18th birthday)
    child_age = age[head] - rng.uniform(22, 35, n)
    child_age = np.where(child_age < 18, rng.uniform(18, 24, n), child_age)
    age = np.where(child, child_age, age)
    age = np.clip(age, 18, 95)
    end_day = np.datetime64(pd.Timestamp(end_ts, unit="s").date(), "D")
    days_old = np.asarray(age * 365.25).astype("int64").astype("timedelta64[D]")
    birth_date: np.ndarray = np.asarray(end_day - days_old)
    birth_year = birth_date.astype("datetime64[Y]").astype(int) + 1970

    # married names: most partners take the head's name; others a random spouse's name
    woman = gender == "F"
    married = woman & ~child & (age > 25) & (rng.random(n) < p.p_married_name)
    takes_head = partner & (rng.random(n) < 0.75)
    married |= takes_head & woman
    married_to = np.where(takes_head, birth_name[head], _last_names(rng, n))
    last = np.where(married, married_to, birth_name).astype(object)
    # children carry the family name
    family = child & (rng.random(n) < 0.9)
    birth_name = np.where(family, last[head], birth_name).astype(object)
    last = np.where(family, last[head], last).astype(object)
    marry_now = woman & ~married & (age < 50) & (rng.random(n) < p.p_marriage_in_window / 0.3)
    name_change_at = np.where(marry_now, rng.integers(start_ts, end_ts, n), -1)
    last = np.where(marry_now, _last_names(rng, n), last).astype(object)

    # addresses (shared within the household), moves
    a = _addresses(rng, n)
    b = _addresses(rng, n)
    same_city = rng.random(n) < 0.5
    for key in ("postcode", "city", "region"):
        b[key] = np.where(same_city, a[key], b[key])
    move_at = np.where(rng.random(n) < p.p_move, rng.integers(start_ts, end_ts, n), -1)
    move_at = move_at[head]
    for d in (a, b):
        for key in d:
            d[key] = d[key][head]

    # homonyms: a few singles copy another single's name and city
    homonym = np.full(n, None, dtype=object)
    singles = rng.permutation(idx[~in_hh])
    k = int(rng.binomial(len(singles), p.p_homonym))
    if k and len(singles) > 2 * k:
        followers, anchors = singles[:k], rng.choice(singles[k:], k)
        gender[followers] = gender[anchors]
        first[followers] = first[anchors]
        last[followers] = last[anchors]
        birth_name[followers] = birth_name[anchors]
        name_change_at[followers] = -1
        for key in ("postcode", "city", "region"):
            a[key][followers] = a[key][anchors]
        move_at[followers] = -1
        group = np.array([f"G{first_index + i:09d}" for i in anchors], dtype=object)
        homonym[followers] = group
        homonym[anchors] = group

    # phones
    mobile_prefix = np.where(rng.random(n) < 0.8, "06", "07")
    mobile = np.array(registry.unique_phones(rng, mobile_prefix), dtype=object)
    land_prefix = np.array([vocab.REGION_LANDLINE_PREFIX[r] for r in a["region"]])
    landline = np.array(registry.unique_phones(rng, land_prefix), dtype=object)[head]
    has_land = (rng.random(n) < np.where(in_hh, min(1.0, 2 * p.p_landline), p.p_landline))[head]
    landline = np.where(has_land, landline, NA)

    # e-mails
    email1 = np.array(_emails(rng, registry, first, last, birth_year), dtype=object)
    second = rng.random(n) < p.p_second_email
    email2 = np.full(n, None, dtype=object)
    if second.any():
        email2[second] = _emails(
            rng, registry, first[second], birth_name[second], birth_year[second] + 1
        )
    fam = in_hh & is_head & (rng.random(n) < p.p_household_shared_email)
    family_email = np.full(n, None, dtype=object)
    if fam.any():
        fams = [
            f"famille.{ascii_slug(x, '')}@{d}"
            for x, d in zip(
                last[fam],
                rng.choice(
                    ["orange.fr", "free.fr", "sfr.fr", "gmail.com", "wanadoo.fr"], fam.sum()
                ),
                strict=True,
            )
        ]
        family_email[fam] = registry.unique_emails(rng, fams)
    family_email = family_email[head]

    # coverage
    e = rng.random(n) < p.p_ecommerce
    loy = rng.random(n) < p.p_loyalty
    em = rng.random(n) < p.p_email
    customer = e | loy
    share = max(customer.mean(), 1e-9)
    base = p.p_crm / (3 * share + (1 - share))
    crm = rng.random(n) < np.where(customer, 3 * base, base)
    nowhere = ~(e | loy | em | crm)
    to_email = rng.random(n) < 0.6
    em |= nowhere & to_email
    e |= nowhere & ~to_email
    p_web_other = np.clip((p.p_web - 0.95 * p.p_ecommerce) / max(1 - p.p_ecommerce, 1e-9), 0, 1)
    web = rng.random(n) < np.where(e, 0.95, p_web_other)

    first_seen = rng.integers(min(FIRST_SEEN_FLOOR, start_ts), end_ts - 14 * DAY, n)

    df = pd.DataFrame(
        {
            "person_id": [f"P{first_index + i:09d}" for i in idx],
            "household_id": np.where(in_hh, [f"H{block:06d}{u:04d}" for u in unit], NA),
            "homonym_group": homonym,
            "gender": gender,
            "first_name": first,
            "last_name": last,
            "birth_name": birth_name,
            "name_change_at": name_change_at,
            "birth_date": birth_date,
            "mobile": mobile,
            "landline": landline,
            "email1": email1,
            "email2": email2,
            "family_email": family_email,
            "move_at": move_at,
            "in_ecommerce": e,
            "in_loyalty": loy,
            "in_crm": crm,
            "in_email": em,
            "in_web": web,
            "first_seen": first_seen,
            "rate": rng.gamma(p.purchase_rate_shape, p.purchase_rate_scale, n),
            "dropout": rng.beta(p.dropout_a, p.dropout_b, n),
            "online_share": rng.beta(p.online_share_a, p.online_share_b, n),
            "open_rate": rng.beta(2.0, 5.0, n),
            "click_rate": rng.beta(1.2, 6.0, n),
            "web_rate": rng.gamma(2.0, p.web_sessions_per_year / 2.0, n),
        }
    )
    for key, values in a.items():
        df[f"a_{key}"] = values
    for key, values in b.items():
        df[f"b_{key}"] = values
    for ch in CHANNELS:
        df[f"consent_{ch}"] = rng.random(n) < _CONSENT_BASE[ch]
        df[f"consent_{ch}_change_at"] = np.where(
            rng.random(n) < p.p_consent_change, rng.integers(start_ts, end_ts, n), -1
        )
    return df


def consent_at(persons: pd.DataFrame, channel: str, ts: np.ndarray) -> np.ndarray:
    """The person's true consent for ``channel`` at times ``ts`` (aligned with ``persons``)."""
    change = persons[f"consent_{channel}_change_at"].to_numpy()
    flipped = (change >= 0) & (ts >= change)
    return persons[f"consent_{channel}"].to_numpy() ^ flipped
