"""Person records of each source system, as each system would deliver them.

One builder per person-holding entity:

- ``ecommerce/customers``: web-form data (mixed case, user typos), CSV utf-8 ``,``;
- ``stores/members``: loyalty cards typed at the till (upper case, no accents, French dates),
  CSV ``;`` latin-1;
- ``crm/contacts``: call-centre agents' records (address split in columns, maiden name,
  ``YYYYMMDD`` birth dates), JSON lines;
- ``emailing/subscribers``: newsletter sign-ups (e-mail, sometimes a first name), CSV.

Each builder returns the delivered frame and a :class:`Records` index (person position,
``source_id``, creation / update times) used for truth and to attach activity. Values are
snapshots of the person at the record's ``updated_at`` (old address before a move, birth name
before a marriage). Duplicates inside a source are second records of the same person created
later, often with another e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from unification.synthetic import corrupt, vocab
from unification.synthetic.corrupt import NA
from unification.synthetic.params import CorruptionParams
from unification.synthetic.persons import CHANNELS, DAY, consent_at

SOURCE_ENTITIES: dict[str, str] = {
    "ecommerce": "customers",
    "stores": "members",
    "crm": "contacts",
    "emailing": "subscribers",
}


@dataclass
class Records:
    """Index of the records of one person entity in a block (aligned arrays)."""

    pi: np.ndarray  # person position in the block
    source_id: np.ndarray  # as delivered (string)
    created: np.ndarray  # epoch seconds
    updated: np.ndarray
    is_dup: np.ndarray

    def __len__(self) -> int:
        return len(self.pi)


@dataclass
class Ctx:
    """What a builder needs: the block, its persons, its generator and the rates."""

    block: int
    persons: pd.DataFrame
    rng: np.random.Generator
    params: CorruptionParams
    start_ts: int
    end_ts: int


def ts_text(ts: np.ndarray, fmt: str) -> np.ndarray:
    """Format epoch seconds (negative = missing) with a ``strftime`` pattern."""
    ts = np.asarray(ts, dtype=np.int64)
    missing = ts < 0
    arr = pa.array(np.where(missing, 0, ts), type=pa.timestamp("s"), mask=missing)
    return np.asarray(pc.strftime(arr, format=fmt).to_numpy(zero_copy_only=False), dtype=object)


def date_text(d: np.ndarray, fmt: str) -> np.ndarray:
    """Format ``datetime64[D]`` values (NaT = missing) with a ``strftime`` pattern."""
    d = np.asarray(d, dtype="datetime64[D]")
    missing = np.isnat(d)
    secs = np.where(missing, 0, d.astype(np.int64) * DAY)
    return ts_text(np.where(missing, -1, secs), fmt)


def created_offsets(ctx: Ctx) -> dict[str, np.ndarray]:
    """Delay between first contact and each source's first record, per person.

    One of the person's sources (drawn) is the first contact; the others follow later.
    """
    rng, p = ctx.rng, ctx.persons
    n = len(p)
    flags = np.column_stack(
        [p[f"in_{s}"].to_numpy() for s in ("ecommerce", "loyalty", "crm", "email")]
    )
    score = np.where(flags, rng.random(flags.shape), 2.0)
    primary = score.argmin(axis=1)
    out = {}
    for j, s in enumerate(SOURCE_ENTITIES):
        delay = rng.exponential(250 * DAY, n).astype(np.int64)
        out[s] = np.where(primary == j, 0, delay)
    return out


def _records(ctx: Ctx, mask: np.ndarray, offset: np.ndarray, p_dup: float) -> Records:
    rng, end = ctx.rng, ctx.end_ts
    first_seen = ctx.persons["first_seen"].to_numpy()
    pi = np.flatnonzero(mask)
    latest = end - 3 * DAY
    created = first_seen[pi] + offset[pi]
    late = created > latest  # joined after the period: draw a date between first contact and end
    created = np.where(late, rng.integers(first_seen[pi], latest), created)
    dup = rng.random(len(pi)) < p_dup
    created_dup = rng.integers(created[dup] + DAY, end - DAY) if dup.any() else created[dup]
    pi = np.concatenate([pi, pi[dup]])
    created = np.concatenate([created, created_dup])
    is_dup = np.concatenate([np.zeros(len(dup), bool), np.ones(int(dup.sum()), bool)])
    never = rng.random(len(pi)) < 0.45
    updated = np.where(never, created, rng.integers(created, end))
    order = np.lexsort((pi, created))
    return Records(pi[order], np.empty(0), created[order], updated[order], is_dup[order])


def snapshot(ctx: Ctx, rec: Records) -> dict[str, np.ndarray]:
    """The person's identity as it was at each record's ``updated_at``."""
    p = ctx.persons
    t = rec.updated
    g = {c: p[c].to_numpy()[rec.pi] for c in p.columns}
    moved = (g["move_at"] >= 0) & (t >= g["move_at"])
    out = {
        k: g[k] for k in ("gender", "first_name", "birth_name", "birth_date", "mobile", "landline")
    }
    before_marriage = (g["name_change_at"] >= 0) & (t < g["name_change_at"])
    out["last_name"] = np.where(before_marriage, g["birth_name"], g["last_name"])
    out["married"] = out["last_name"] != g["birth_name"]
    for key in ("street_no", "street_type", "street_name", "line2", "postcode", "city", "region"):
        out[key] = np.where(moved, g[f"b_{key}"], g[f"a_{key}"])
    return out


def pick_email(ctx: Ctx, rec: Records, p_second: float, p_family: float) -> np.ndarray:
    """Which of the person's e-mails a record holds (duplicates favour the second one)."""
    p, rng = ctx.persons, ctx.rng
    e1 = p["email1"].to_numpy()[rec.pi]
    e2 = p["email2"].to_numpy()[rec.pi]
    fam = p["family_email"].to_numpy()[rec.pi]
    has2 = np.array([v is not None for v in e2], dtype=bool)
    hasf = np.array([v is not None for v in fam], dtype=bool)
    use2 = has2 & (rng.random(len(rec)) < np.where(rec.is_dup, 0.7, p_second))
    usef = hasf & ~use2 & (rng.random(len(rec)) < p_family)
    return np.where(use2, e2, np.where(usef, fam, e1))


def names(
    ctx: Ctx, snap: dict[str, np.ndarray], *, typo_factor: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """First and last names with compound/particle variants, typos and swaps."""
    rng, p = ctx.rng, ctx.params
    first = corrupt.compound_variants(rng, snap["first_name"], p.p_compound_variant)
    last = corrupt.particle_variants(rng, snap["last_name"], p.p_particle_variant)
    first = corrupt.typos(rng, first, p.p_typo_name * typo_factor)
    last = corrupt.typos(rng, last, p.p_typo_name * typo_factor)
    return corrupt.swap(rng, first, last, p.p_swap_names)


def consent(ctx: Ctx, rec: Records, channel: str, at: np.ndarray) -> np.ndarray:
    """The flag a record holds for ``channel`` at time ``at`` (with source-side noise)."""
    truth = consent_at(ctx.persons.iloc[rec.pi], channel, at)
    noise = ctx.rng.random(len(rec)) < ctx.params.p_consent_noise
    return truth ^ noise


def _consent_time(ctx: Ctx, rec: Records) -> np.ndarray:
    return ctx.rng.integers(rec.created, np.maximum(rec.updated, rec.created + 1))


def _emails(ctx: Ctx, values: np.ndarray, p_missing: float) -> tuple[np.ndarray, np.ndarray]:
    p = ctx.params
    out, broken = corrupt.emails(
        ctx.rng,
        values,
        p_case=p.p_email_case,
        p_plus=p.p_email_plus_tag,
        p_dots=p.p_email_dots,
        p_typo=p.p_email_typo,
    )
    return corrupt.blank(ctx.rng, out, p_missing), broken


def _birth(ctx: Ctx, snap: dict[str, np.ndarray], p_missing: float) -> np.ndarray:
    p = ctx.params
    return corrupt.birth_dates(
        ctx.rng,
        snap["birth_date"],
        p_missing=p_missing,
        p_error=p.p_birth_date_error,
        p_placeholder=p.p_birth_date_placeholder,
    )


# --------------------------------------------------------------------------- e-commerce
def ecommerce_customers(ctx: Ctx, offset: np.ndarray) -> tuple[pd.DataFrame, Records]:
    """Accounts of the web shop (``customer_id`` numeric, by creation order)."""
    rng, p = ctx.rng, ctx.params
    rec = _records(ctx, ctx.persons["in_ecommerce"].to_numpy(), offset, p.p_dup_ecommerce)
    rec.source_id = np.array(
        [str(1_000_000 + ctx.block * 1_000 + j) for j in range(len(rec))], dtype=object
    )
    s = snapshot(ctx, rec)
    first, last = names(ctx, s)
    accents = rng.random(len(rec)) < p.p_strip_accents
    first, last = corrupt.strip_accents(first, accents), corrupt.strip_accents(last, accents)
    first, last = (
        corrupt.case_noise(rng, first, p.p_case_noise),
        corrupt.case_noise(rng, last, p.p_case_noise),
    )
    email, _ = _emails(ctx, pick_email(ctx, rec, 0.15, 0.2), 0.0)
    use_land = np.array([v is not None for v in s["landline"]]) & (rng.random(len(rec)) < 0.15)
    phone = corrupt.phones(
        rng,
        np.where(use_land, s["landline"], s["mobile"]),
        "compact",
        p.p_phone_other_format,
        p.p_missing_phone,
    )
    line1 = corrupt.street_lines(
        rng, s["street_no"], s["street_type"], s["street_name"], p.p_address_variant
    )
    no_addr = rng.random(len(rec)) < p.p_missing_address
    news_at = _consent_time(ctx, rec)
    sms_at = _consent_time(ctx, rec)
    df = pd.DataFrame(
        {
            "customer_id": rec.source_id,
            "email": email,
            "civility": np.where(
                rng.random(len(rec)) < 0.1, NA, np.where(s["gender"] == "F", "Mme", "M.")
            ),
            "first_name": first,
            "last_name": last,
            "birth_date": date_text(
                _birth(ctx, s, min(1.0, 2 * p.p_missing_birth_date)), "%Y-%m-%d"
            ),
            "phone": phone,
            "address1": np.where(no_addr, NA, line1),
            "address2": np.where(no_addr, NA, s["line2"]),
            "zip_code": np.where(
                no_addr, NA, corrupt.postcodes(rng, s["postcode"], p.p_postcode_error)
            ),
            "city": np.where(no_addr, NA, corrupt.case_noise(rng, s["city"], 0.2)),
            "country": np.where(
                no_addr, NA, rng.choice(["FR", "France", "FRANCE"], len(rec), p=[0.8, 0.15, 0.05])
            ),
            "created_at": ts_text(rec.created, "%Y-%m-%d %H:%M:%S"),
            "updated_at": ts_text(rec.updated, "%Y-%m-%d %H:%M:%S"),
            "newsletter_optin": consent(ctx, rec, "email", news_at).astype(int),
            "newsletter_optin_at": ts_text(news_at, "%Y-%m-%d %H:%M:%S"),
            "sms_optin": consent(ctx, rec, "sms", sms_at).astype(int),
            "sms_optin_at": ts_text(sms_at, "%Y-%m-%d %H:%M:%S"),
        }
    )
    return df, rec


# --------------------------------------------------------------------------- stores
def _ean13(body12: str) -> str:
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def store_members(
    ctx: Ctx, offset: np.ndarray, home_store: np.ndarray
) -> tuple[pd.DataFrame, Records]:
    """Loyalty cards (``NUM_CARTE`` EAN-13), upper case, French dates, O/N flags."""
    rng, p = ctx.rng, ctx.params
    rec = _records(ctx, ctx.persons["in_loyalty"].to_numpy(), offset, p.p_dup_loyalty)
    rec.source_id = np.array(
        [_ean13(f"29{ctx.block:07d}{j:03d}") for j in range(len(rec))], dtype=object
    )
    s = snapshot(ctx, rec)
    first, last = names(ctx, s, typo_factor=1.5)
    keep_accents = rng.random(len(rec)) < 0.3
    first = corrupt.upper(corrupt.strip_accents(first, ~keep_accents))
    last = corrupt.upper(corrupt.strip_accents(last, ~keep_accents))
    maiden = np.where(
        s["married"] & (rng.random(len(rec)) < 0.5),
        corrupt.upper(corrupt.strip_accents(s["birth_name"])),
        NA,
    )
    young = (s["birth_date"] > np.datetime64("1990-01-01")) & ~s["married"]
    civ = np.where(
        s["gender"] == "F", np.where(young & (rng.random(len(rec)) < 0.5), "MLLE", "MME"), "MR"
    )
    email, _ = _emails(ctx, pick_email(ctx, rec, 0.2, 0.3), min(1.0, 4 * p.p_missing_email))
    line1 = corrupt.upper(
        corrupt.strip_accents(
            corrupt.street_lines(
                rng, s["street_no"], s["street_type"], s["street_name"], p.p_address_variant
            )
        )
    )
    optin_at = _consent_time(ctx, rec)
    on = {
        ch: np.where(consent(ctx, rec, ch, optin_at), "O", "N") for ch in ("email", "sms", "post")
    }
    df = pd.DataFrame(
        {
            "NUM_CARTE": rec.source_id,
            "CIVILITE": civ,
            "NOM": last,
            "NOM_JEUNE_FILLE": maiden,
            "PRENOM": first,
            "DATE_NAISSANCE": date_text(_birth(ctx, s, p.p_missing_birth_date * 0.5), "%d/%m/%Y"),
            "ADRESSE1": corrupt.blank(rng, line1, p.p_missing_address),
            "ADRESSE2": corrupt.upper(corrupt.strip_accents(s["line2"])),
            "CODE_POSTAL": corrupt.postcodes(rng, s["postcode"], p.p_postcode_error * 2),
            "VILLE": corrupt.upper(corrupt.strip_accents(s["city"])),
            "TEL_PORTABLE": corrupt.phones(
                rng, s["mobile"], "compact", p.p_phone_other_format / 2, p.p_missing_phone
            ),
            "TEL_FIXE": corrupt.phones(
                rng, s["landline"], "spaced", p.p_phone_other_format / 2, 0.3
            ),
            "EMAIL": email,
            "MAGASIN": home_store[rec.pi],
            "DATE_ADHESION": ts_text(rec.created, "%d/%m/%Y"),
            "DATE_MAJ": ts_text(rec.updated, "%d/%m/%Y %H:%M:%S"),
            "OPTIN_EMAIL": on["email"],
            "OPTIN_SMS": on["sms"],
            "OPTIN_COURRIER": on["post"],
            "DATE_OPTIN": ts_text(optin_at, "%d/%m/%Y %H:%M:%S"),
        }
    )
    return df, rec


# --------------------------------------------------------------------------- crm
def crm_contacts(ctx: Ctx, offset: np.ndarray) -> tuple[pd.DataFrame, Records]:
    """Call-centre contacts: split address, maiden name, ``YYYYMMDD`` birth dates."""
    rng, p = ctx.rng, ctx.params
    rec = _records(ctx, ctx.persons["in_crm"].to_numpy(), offset, p.p_dup_crm)
    rec.source_id = np.array([f"CT-{ctx.block:07d}-{j:04d}" for j in range(len(rec))], dtype=object)
    s = snapshot(ctx, rec)
    first, last = names(ctx, s, typo_factor=2.0)
    accents = rng.random(len(rec)) < p.p_strip_accents
    first, last = corrupt.strip_accents(first, accents), corrupt.strip_accents(last, accents)
    maiden = np.where(s["married"] & (rng.random(len(rec)) < 0.6), s["birth_name"], NA)
    email, _ = _emails(ctx, pick_email(ctx, rec, 0.25, 0.2), p.p_missing_email * 2)
    abbrev = np.array(
        [str(rng.choice(vocab.STREET_ABBREV[t])) for t in s["street_type"]], dtype=object
    )
    stype = np.where(rng.random(len(rec)) < p.p_address_variant, abbrev, s["street_type"])
    consent_at_ = _consent_time(ctx, rec)
    df = pd.DataFrame(
        {
            "contactId": rec.source_id,
            "salutation": np.where(s["gender"] == "F", "Madame", "Monsieur"),
            "firstName": first,
            "lastName": last,
            "maidenName": maiden,
            "birthDate": date_text(_birth(ctx, s, p.p_missing_birth_date * 1.5), "%Y%m%d"),
            "streetNumber": s["street_no"],
            "streetName": np.array(
                [f"{t} {nm}" for t, nm in zip(stype, s["street_name"], strict=True)], dtype=object
            ),
            "addressComplement": s["line2"],
            "postalCode": corrupt.postcodes(rng, s["postcode"], p.p_postcode_error),
            "city": s["city"],
            "country": "France",
            "homePhone": corrupt.phones(
                rng, s["landline"], "intl_spaced", p.p_phone_other_format, 0.1
            ),
            "mobilePhone": corrupt.phones(
                rng, s["mobile"], "intl_spaced", p.p_phone_other_format, p.p_missing_phone
            ),
            "email": email,
            "createdDate": ts_text(rec.created, "%Y-%m-%dT%H:%M:%S"),
            "lastModifiedDate": ts_text(rec.updated, "%Y-%m-%dT%H:%M:%S"),
            "optInEmail": consent(ctx, rec, "email", consent_at_),
            "optInPhone": consent(ctx, rec, "phone", consent_at_),
            "optInPost": consent(ctx, rec, "post", consent_at_),
            "consentUpdatedAt": ts_text(consent_at_, "%Y-%m-%dT%H:%M:%S"),
        }
    )
    return df, rec


# --------------------------------------------------------------------------- emailing
@dataclass
class Subscriptions:
    """Newsletter state of each subscriber record (for events)."""

    unsubscribed_at: np.ndarray  # -1 = still subscribed
    bounced: np.ndarray


def email_subscribers(ctx: Ctx, offset: np.ndarray) -> tuple[pd.DataFrame, Records, Subscriptions]:
    """Newsletter subscribers: e-mail, sometimes a first name; opt-in and opt-out dates."""
    rng, p = ctx.rng, ctx.params
    rec = _records(ctx, ctx.persons["in_email"].to_numpy(), offset, p.p_dup_email)
    hexes = rng.integers(0, 16**6, len(rec))
    rec.source_id = np.array(
        [f"sub_{h:06x}{ctx.block:06x}{j:04x}" for j, h in enumerate(hexes)], dtype=object
    )
    s = snapshot(ctx, rec)
    raw = pick_email(ctx, rec, 0.2, 0.15)
    email, bounced = _emails(ctx, raw, 0.0)
    # opt-out: when the person withdraws e-mail consent, or at a background hazard
    change = ctx.persons["consent_email_change_at"].to_numpy()[rec.pi]
    initial = ctx.persons["consent_email"].to_numpy()[rec.pi]
    withdraw = (change > rec.created) & initial
    hazard = rng.random(len(rec)) < 1 - np.exp(-0.08 * (ctx.end_ts - rec.created) / (365.25 * DAY))
    random_at = rng.integers(rec.created + 1, ctx.end_ts)
    unsub = np.where(
        withdraw, change + rng.integers(0, 3 * DAY, len(rec)), np.where(hazard, random_at, -1)
    )
    unsub = np.where(unsub >= ctx.end_ts, -1, unsub)
    updated = np.maximum(rec.updated, unsub)
    rec.updated = updated
    status = np.where(bounced, "bounced", np.where(unsub >= 0, "unsubscribed", "subscribed"))
    first = np.where(rng.random(len(rec)) < 0.5, corrupt.case_noise(rng, s["first_name"], 0.1), NA)
    df = pd.DataFrame(
        {
            "subscriber_id": rec.source_id,
            "email_address": email,
            "first_name": first,
            "status": status,
            "optin_date": ts_text(rec.created, "%Y-%m-%dT%H:%M:%S"),
            "optout_date": ts_text(unsub, "%Y-%m-%dT%H:%M:%S"),
            "signup_source": rng.choice(
                ["website", "checkout", "store", "contest", "popin"], len(rec)
            ),
            "last_changed": ts_text(updated, "%Y-%m-%dT%H:%M:%S"),
        }
    )
    return df, rec, Subscriptions(unsub, bounced)


__all__ = ["CHANNELS", "Ctx", "Records", "SOURCE_ENTITIES", "Subscriptions"]
