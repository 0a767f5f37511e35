"""Corruption and formatting of identity fields, as real source systems deliver them.

Each function takes an ``object`` array of values (``None`` = missing), a generator and a
rate, and returns a new array. Work is done only on the rows drawn for corruption, so the
cost stays proportional to the corruption rate.
"""

from __future__ import annotations

import numpy as np
from unidecode import unidecode

from unification.synthetic import vocab

#: A missing value usable as a ``np.where`` branch of object arrays.
NA = np.array(None, dtype=object)

_KEYBOARD_NEIGHBOURS = {
    "a": "zqs", "z": "aes", "e": "zrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij",
    "i": "uok", "o": "ipl", "p": "om", "q": "asw", "s": "qdz", "d": "sfe", "f": "dgr",
    "g": "fht", "h": "gjy", "j": "hku", "k": "jli", "l": "kmo", "m": "lp", "w": "xq",
    "x": "wc", "c": "xv", "v": "cb", "b": "vn", "n": "bm",
}  # fmt: skip


def _pick(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """Indices of non-missing values drawn with probability ``rate``."""
    present = np.array([v is not None for v in values], dtype=bool)
    return np.flatnonzero(present & (rng.random(len(values)) < rate))


def typo_one(rng: np.random.Generator, text: str) -> str:
    """One edit in ``text``: substitution by a keyboard neighbour, deletion, swap or doubling."""
    if len(text) < 3:
        return text
    i = int(rng.integers(1, len(text) - 1))
    kind = int(rng.integers(0, 4))
    c = text[i]
    if kind == 0 and c.lower() in _KEYBOARD_NEIGHBOURS:
        n = _KEYBOARD_NEIGHBOURS[c.lower()]
        r = n[int(rng.integers(0, len(n)))]
        return text[:i] + (r.upper() if c.isupper() else r) + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + c + text[i:]


def typos(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """Apply one typo to a share ``rate`` of the values."""
    out = values.copy()
    for i in _pick(rng, values, rate):
        out[i] = typo_one(rng, out[i])
    return out


def strip_accents(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """ASCII-fold values (all, or where ``mask``)."""
    out = values.copy()
    idx = range(len(values)) if mask is None else np.flatnonzero(mask)
    for i in idx:
        if out[i] is not None:
            out[i] = unidecode(out[i])
    return out


def case_noise(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """Upper-case (2/3) or lower-case (1/3) a share ``rate`` of the values."""
    out = values.copy()
    for i in _pick(rng, values, rate):
        out[i] = out[i].upper() if rng.random() < 0.67 else out[i].lower()
    return out


def upper(values: np.ndarray) -> np.ndarray:
    """Upper-case every value (legacy systems)."""
    return np.array([None if v is None else v.upper() for v in values], dtype=object)


def compound_variants(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """``Jean-Pierre`` -> ``Jean Pierre`` | ``Jean`` | ``J-P`` | ``Jeanpierre``."""
    out = values.copy()
    for i in _pick(rng, values, rate):
        v = out[i]
        if "-" not in v:
            continue
        a, b = v.split("-", 1)
        out[i] = (f"{a} {b}", a, f"{a[0]}-{b[0]}", a + b.lower())[
            int(rng.choice(4, p=[0.45, 0.35, 0.1, 0.1]))
        ]
    return out


def particle_variants(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """``de La Tour`` -> ``Delatour`` | ``De La Tour`` | ``La Tour``; ``d'Arcy`` -> ``Darcy``."""
    out = values.copy()
    for i in _pick(rng, values, rate):
        v = out[i]
        if " " not in v and "'" not in v:
            continue
        parts = v.replace("'", "' ").split()
        kind = int(rng.integers(0, 3))
        if kind == 0:
            joined = "".join(p.replace("'", "") for p in parts)
            out[i] = joined[0].upper() + joined[1:].lower()
        elif kind == 1:
            out[i] = " ".join(p[0].upper() + p[1:] for p in parts).replace("' ", "'")
        elif len(parts) > 1 and parts[0].lower() in ("de", "du", "des", "d'"):
            out[i] = " ".join(parts[1:])
        else:
            out[i] = v.replace(" ", "-")
    return out


def swap(
    rng: np.random.Generator, first: np.ndarray, last: np.ndarray, rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Swap first and last names on a share ``rate`` of the rows."""
    m = rng.random(len(first)) < rate
    return np.where(m, last, first), np.where(m, first, last)


def blank(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """Set a share ``rate`` of values to missing."""
    return np.where(rng.random(len(values)) < rate, NA, values)


# --------------------------------------------------------------------------- phones
PHONE_STYLES: tuple[str, ...] = (
    "compact", "spaced", "dotted", "dashed", "intl", "intl_spaced", "intl_00", "no_zero",
)  # fmt: skip


def format_phone(national: str, style: str) -> str:
    """Write a 10-digit French national number in one of :data:`PHONE_STYLES`."""
    cc, rest = ("262", national[1:]) if national.startswith("0262") else ("33", national[1:])
    pairs = " ".join(national[i : i + 2] for i in range(0, 10, 2))
    if style == "compact":
        return national
    if style == "spaced":
        return pairs
    if style == "dotted":
        return pairs.replace(" ", ".")
    if style == "dashed":
        return pairs.replace(" ", "-")
    if style == "intl":
        return f"+{cc}{rest}"
    if style == "intl_spaced":
        return f"+{cc} {rest[0]} " + " ".join(rest[i : i + 2] for i in range(1, 9, 2))
    if style == "intl_00":
        return f"00{cc}{rest}"
    return rest  # no_zero: leading zero lost by a spreadsheet


def phones(
    rng: np.random.Generator, values: np.ndarray, usual: str, p_other: float, p_missing: float
) -> np.ndarray:
    """Format national numbers in the source's ``usual`` style, others with rate ``p_other``."""
    other = rng.random(len(values)) < p_other
    styles = rng.choice(PHONE_STYLES, len(values))
    missing = rng.random(len(values)) < p_missing
    return np.array(
        [
            None if v is None or miss else format_phone(v, s if o else usual)
            for v, s, o, miss in zip(values, styles, other, missing, strict=True)
        ],
        dtype=object,
    )


# --------------------------------------------------------------------------- e-mails
def emails(
    rng: np.random.Generator,
    values: np.ndarray,
    *,
    p_case: float,
    p_plus: float,
    p_dots: float,
    p_typo: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt e-mails; return the new values and a mask of the ones made undeliverable."""
    out = values.copy()
    broken = np.zeros(len(values), dtype=bool)
    for i in _pick(rng, values, p_plus):
        local, domain = out[i].split("@", 1)
        out[i] = f"{local}+{rng.choice(vocab.PLUS_TAGS)}@{domain}"
    for i in _pick(rng, values, p_dots):
        local, domain = out[i].split("@", 1)
        if domain != "gmail.com":
            continue
        local = local.replace(".", "") if "." in local else local[:3] + "." + local[3:]
        out[i] = f"{local}@{domain}"
    for i in _pick(rng, values, p_typo):
        local, domain = out[i].split("@", 1)
        if rng.random() < 0.6 and domain in vocab.DOMAIN_TYPOS:
            domain = str(rng.choice(vocab.DOMAIN_TYPOS[domain]))
        else:
            local = typo_one(rng, local)
        out[i] = f"{local}@{domain}"
        broken[i] = True
    for i in _pick(rng, values, p_case):
        v = out[i]
        out[i] = v.upper() if rng.random() < 0.2 else v[0].upper() + v[1:]
        if rng.random() < 0.3:
            local, domain = out[i].split("@", 1)
            out[i] = ".".join(w.capitalize() for w in local.split(".")) + "@" + domain
    for i in _pick(rng, values, 0.01):
        out[i] = f" {out[i]} " if rng.random() < 0.5 else f"{out[i]} "
    return out, broken


# --------------------------------------------------------------------------- addresses
def street_lines(
    rng: np.random.Generator,
    number: np.ndarray,
    stype: np.ndarray,
    sname: np.ndarray,
    p_variant: float,
) -> np.ndarray:
    """``12 rue de la République`` with abbreviations, commas and capitals on ``p_variant``."""
    variant = rng.random(len(number)) < p_variant
    kinds = rng.integers(0, 4, len(number))
    out = []
    for no, t, nm, v, k in zip(number, stype, sname, variant, kinds, strict=True):
        if not v:
            out.append(f"{no} {t} {nm}")
            continue
        abbrev = vocab.STREET_ABBREV.get(t, (t,))
        if k == 0:
            out.append(f"{no} {abbrev[int(rng.integers(0, len(abbrev)))]} {nm}")
        elif k == 1:
            out.append(f"{no}, {t} {nm}")
        elif k == 2:
            out.append(unidecode(f"{no} {t} {nm}").upper())
        else:
            out.append(f"{no} {t.capitalize()} {nm}".replace("  ", " "))
    return np.array(out, dtype=object)


def postcodes(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """Lose the leading zero (``01000`` -> ``1000``) or mistype one digit."""
    out = values.copy()
    for i in _pick(rng, values, rate):
        v = out[i]
        if v.startswith("0"):
            out[i] = v[1:]
        else:
            j = int(rng.integers(2, 5))
            out[i] = v[:j] + str(int(rng.integers(0, 10))) + v[j + 1 :]
    return out


def birth_dates(
    rng: np.random.Generator,
    values: np.ndarray,
    *,
    p_missing: float,
    p_error: float,
    p_placeholder: float,
) -> np.ndarray:
    """Birth dates (``datetime64[D]``, NaT = missing) with swaps, typos and placeholders."""
    out = values.astype("datetime64[D]").copy()
    n = len(out)
    u = rng.random(n)
    err = np.flatnonzero((u >= p_missing) & (u < p_missing + p_error))
    for i in err:
        y, m, d = (int(x) for x in str(out[i]).split("-"))
        if d <= 12 and d != m:
            out[i] = np.datetime64(f"{y:04d}-{d:02d}-{m:02d}")
        else:
            d = min(d, 28) if m == 2 else d
            out[i] = np.datetime64(f"{y + int(rng.choice([-10, -1, 1, 10])):04d}-{m:02d}-{d:02d}")
    out[(u >= p_missing + p_error) & (u < p_missing + p_error + p_placeholder)] = np.datetime64(
        "1900-01-01"
    )
    out[u < p_missing] = np.datetime64("NaT")
    return out
