"""Column -> Column cleaners of identity fields.

Each function takes a :class:`~pyspark.sql.Column` (and settings where needed) and returns a
Column, so they compose inside one ``select`` and are testable on a two-row frame. Blank strings
count as missing everywhere: every cleaner returns null for them.

Two families:

* **standard values** stored in ``silver.person_records`` (display names with accents kept,
  normalised email, E.164 phones, AFNOR-style upper-case address and city, ISO dates);
* **matching keys** used by the matching stage (:func:`name_key`, :func:`name_core_key`):
  folded to ASCII, lower case, particles and separators handled so that ``Jean-Pierre``,
  ``jean pierre`` and ``JEANPIERRE`` compare equal.

Unicode folding uses the ``unidecode`` library through a vectorised (Arrow) pandas UDF; phone
numbers use Google's ``phonenumbers`` the same way. Everything else is native Spark SQL.

Examples:
    ```py
    from unification.standardise import columns as C
    df.select(
        C.clean_name(F.col("prenom"), titles).alias("first_name"),
        C.normalise_email(F.col("mail"), email_settings).alias("email"),
        C.phone_e164(F.col("tel"), F.lit("FR")).alias("phone"),
    )
    ```
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from unification.standardise.settings import (
    AddressSettings,
    BirthDateSettings,
    EmailSettings,
)

# ----------------------------------------------------------------------------- helpers

#: Accent-tolerant character classes, used to build title regexes that match ``Maître``.
_ACCENT_CLASSES = {
    "a": "[aàáâãäå]",
    "c": "[cç]",
    "e": "[eéèêë]",
    "i": "[iíìîï]",
    "n": "[nñ]",
    "o": "[oóòôõö]",
    "u": "[uúùûü]",
    "y": "[yýÿ]",
}

PHONE_STRUCT = T.StructType(
    [
        T.StructField("e164", T.StringType(), True),
        T.StructField("mobile", T.BooleanType(), True),
    ]
)


def let(value: Column, body: Callable[[Column], Column]) -> Column:
    """Evaluate ``value`` once and use it several times in ``body``.

    Cleaners chain many string functions; referencing a chained expression twice would copy
    (and compute) it twice, and nested copies grow exponentially. Binding it to a lambda
    variable (``transform`` over a one-element array) keeps the plan linear.
    """
    return F.element_at(F.transform(F.array(value), body), 1)


def blank_to_null(col: Column) -> Column:
    """Trim and collapse inner whitespace; empty strings become null.

    Examples:
        ```py
        blank_to_null(F.lit("  a   b ")) # -> "a b"
        ```
    """
    return F.nullif(F.trim(F.regexp_replace(col.cast("string"), r"\s+", " ")), F.lit(""))


def _accent_tolerant(word: str) -> str:
    return "".join(_ACCENT_CLASSES.get(ch, re.escape(ch)) for ch in word.lower())


def _alternation(words: Iterable[str]) -> str:
    # longest first so that "mme" wins over "m"
    return "|".join(_accent_tolerant(w) for w in sorted(set(words), key=len, reverse=True))


def _in_list(col: Column, values: Iterable[str]) -> Column:
    vals = sorted({v for v in values})
    if not vals:
        return F.lit(False)
    return col.isin(vals)


# ----------------------------------------------------------------------------- folding


def _fold_series(values: pd.Series) -> pd.Series:
    from unidecode import unidecode

    cache: dict[str, str] = {}

    def one(v: Any) -> Any:
        if not isinstance(v, str):
            return None
        if v.isascii():
            return v
        out = cache.get(v)
        if out is None:
            out = unidecode(v)
            cache[v] = out
        return out

    return values.map(one)


@lru_cache(maxsize=1)
def _fold_udf() -> Any:
    # created on first use, never at import: no SparkSession exists then
    return F.pandas_udf(_fold_series, T.StringType())  # type: ignore[call-overload]


def fold(col: Column) -> Column:
    """Unicode folding to ASCII with ``unidecode`` (``Hélène Œdipe`` -> ``Helene OEdipe``).

    Case is kept; nulls stay null.
    """
    return _fold_udf()(col.cast("string"))


# ----------------------------------------------------------------------------- placeholders


def null_placeholders(col: Column, values: Sequence[str], patterns: Sequence[str] = ()) -> Column:
    """Null the value when it is a placeholder; otherwise return it trimmed.

    The comparison is made on the trimmed, lower-cased value with French accents removed
    (``Non renseigné`` equals ``non renseigne``); ``patterns`` are regexes over the trimmed
    value.

    Args:
        col: a string column.
        values: placeholder values (case and accents ignored).
        patterns: regular expressions; a value matching one is a placeholder.
    """
    lowered = sorted({v.strip().lower() for v in values})

    def body(trimmed: Column) -> Column:
        key = F.translate(F.lower(trimmed), "àâäéèêëîïôöùûüçÿ", "aaaeeeeiioouuucy")
        is_placeholder = _in_list(key, lowered)
        for pattern in patterns:
            is_placeholder = is_placeholder | trimmed.rlike(pattern)
        return F.when(is_placeholder, F.lit(None).cast("string")).otherwise(trimmed)

    return let(blank_to_null(col), body)


# ----------------------------------------------------------------------------- names


def strip_titles(col: Column, titles: Sequence[str]) -> Column:
    """Remove leading honorifics (``Mme``, ``M.``, ``Dr``, ``Maître``...).

    A value made of a title only (``"Mr"``) becomes null; a title is only removed when other
    text follows, so a first name ``Marie`` or an initial ``M`` is kept.
    """
    if not titles:
        return blank_to_null(col)
    alt = _alternation(titles)
    value = F.regexp_replace(blank_to_null(col), rf"(?i)^(?:(?:{alt})\.?\s*)+$", "")
    value = F.regexp_replace(value, rf"(?i)^(?:(?:{alt})\.?\s+)+(?=\S)", "")
    return F.nullif(value, F.lit(""))


def title_gender(col: Column, female: Sequence[str], male: Sequence[str]) -> Column:
    """``F`` / ``M`` implied by a title column (``Mme`` -> F), else null."""
    key = F.regexp_replace(F.lower(blank_to_null(col)), r"[.\s]", "")
    key = F.translate(key, "àâäéèêëîïôöùûüç", "aaaeeeeiioouuuc")
    return (
        F.when(_in_list(key, [t.lower() for t in female]), F.lit("F"))
        .when(_in_list(key, [t.lower() for t in male]), F.lit("M"))
        .otherwise(F.lit(None).cast("string"))
    )


def _proper_case(col: Column, particles: Sequence[str]) -> Column:
    """``JEAN-PIERRE DE LA FONTAINE`` -> ``Jean-Pierre de la Fontaine``."""
    parts = set(p.lower() for p in particles)
    words = F.split(F.lower(col), " ")

    def apostrophes(h: Column) -> Column:
        # d'artagnan -> d'Artagnan: an elided particle before an apostrophe stays lower case
        return F.array_join(
            F.transform(
                F.split(h, "'"),
                lambda a, i: F.when(
                    (i == 0) & (F.size(F.split(h, "'")) > 1) & _in_list(a, parts), a
                ).otherwise(F.initcap(a)),
            ),
            "'",
        )

    def word(w: Column) -> Column:
        capped = F.array_join(F.transform(F.split(w, "-"), apostrophes), "-")
        return F.when(_in_list(w, parts), w).otherwise(capped)

    return F.array_join(F.transform(words, word), " ")


def clean_name(col: Column, titles: Sequence[str] = (), particles: Sequence[str] = ()) -> Column:
    """Display form of a first or last name, accents kept.

    Titles are removed, separators normalised (``Jean - Pierre`` -> ``Jean-Pierre``,
    curly apostrophes -> ``'``), digits and stray punctuation dropped. A name delivered all
    upper or all lower case is put in proper case with lower-case particles
    (``DE LA FONTAINE`` -> ``de la Fontaine``); a mixed-case name (``McDonald``) is kept as is.
    """
    value = blank_to_null(col)
    value = F.regexp_replace(value, "[’‘`´]", "'")
    value = F.regexp_replace(value, r"\s*-\s*", "-")
    value = F.regexp_replace(value, r"[^\p{L}\p{M}' .-]", " ")
    value = strip_titles(value, titles)
    value = blank_to_null(F.regexp_replace(value, r"(^[-'. ]+)|([-' ]+$)", ""))

    def body(v: Column) -> Column:
        single_case = (v == F.upper(v)) | (v == F.lower(v))
        return F.when(single_case, _proper_case(v, particles)).otherwise(v)

    return let(value, body)


def name_key(col: Column, titles: Sequence[str] = ()) -> Column:
    """Matching key of a name: folded, lower case, separators and spaces removed.

    ``Jean-Pierre``, ``jean pierre`` and ``JEANPIERRE`` give ``jeanpierre``;
    ``de la Fontaine`` gives ``delafontaine``.
    """
    value = F.lower(fold(col))
    value = strip_titles(value, titles)
    return F.nullif(F.regexp_replace(value, r"[^a-z]", ""), F.lit(""))


def name_core_key(col: Column, particles: Sequence[str], titles: Sequence[str] = ()) -> Column:
    """Matching key without leading particles: ``de la Fontaine`` and ``La Fontaine`` give
    ``fontaine``; ``d'Artagnan`` gives ``artagnan``. Falls back to :func:`name_key` when the
    name is made of particles only.
    """
    value = F.lower(fold(col))
    value = strip_titles(value, titles)
    value = F.trim(F.regexp_replace(value, r"[^a-z]+", " "))
    alt = "|".join(re.escape(p.lower()) for p in sorted(set(particles), key=len, reverse=True))

    def body(v: Column) -> Column:
        core = F.regexp_replace(v, rf"^(?:(?:{alt})\s+)+", "") if alt else v
        core = F.nullif(F.regexp_replace(core, " ", ""), F.lit(""))
        return F.nullif(F.coalesce(core, F.regexp_replace(v, " ", "")), F.lit(""))

    return let(value, body)


def clean_gender(col: Column) -> Column:
    """``M`` / ``F`` from the usual spellings (``homme``, ``female``, ``Mme``, INSEE 1/2)."""
    key = F.translate(F.lower(blank_to_null(col)), "éèêëç", "eeeec")
    key = F.regexp_replace(key, r"[.\s]", "")
    male = ["m", "h", "male", "man", "homme", "masculin", "masc", "1", "mr", "monsieur"]
    female = ["f", "w", "female", "woman", "femme", "feminin", "fem", "2", "mme", "madame",
              "mlle", "mrs", "ms"]  # fmt: skip
    return (
        F.when(_in_list(key, male), F.lit("M"))
        .when(_in_list(key, female), F.lit("F"))
        .otherwise(F.lit(None).cast("string"))
    )


# ----------------------------------------------------------------------------- email


def email_raw(col: Column) -> Column:
    """The delivered address, trimmed (kept for contact; see :func:`normalise_email`)."""
    return blank_to_null(F.regexp_replace(col.cast("string"), r"^\s*(mailto:)?<?|>?\s*$", ""))


EMAIL_REGEX = r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$"


def normalise_email(col: Column, settings: EmailSettings | None = None) -> Column:
    """Matching form of an email address, or null when invalid or a placeholder.

    Lower case, whitespace removed, provider domain aliases applied (``googlemail.com`` ->
    ``gmail.com``, frequent typos), ``+tags`` removed for providers that ignore them, dots
    removed from the local part for providers that ignore them (gmail). Placeholders
    (``noemail@...``, ``test@test.com``) give null.

    Examples:
        ```py
        normalise_email(F.lit(" Jean.Dupont+promo@GoogleMail.com "))  # "jeandupont@gmail.com"
        ```
    """
    s = settings or EmailSettings()
    value = F.lower(email_raw(col))
    value = F.regexp_replace(value, r"\s+", "")
    value = F.regexp_replace(value, r"\.+@|@\.+", "@")
    alias_map = (
        F.create_map(*[F.lit(x) for kv in sorted(s.domain_aliases.items()) for x in kv])
        if s.domain_aliases
        else None
    )

    def normalised_of(v: Column) -> Column:
        local = F.substring_index(v, "@", 1)
        domain = F.substring_index(v, "@", -1)
        if alias_map is not None:
            domain = F.coalesce(F.try_element_at(alias_map, domain), domain)

        def with_domain(d: Column) -> Column:
            loc = local
            if "*" in s.plus_tag_domains:
                loc = F.regexp_replace(loc, r"\+.*$", "")
            elif s.plus_tag_domains:
                loc = F.when(
                    _in_list(d, s.plus_tag_domains), F.regexp_replace(loc, r"\+.*$", "")
                ).otherwise(loc)
            if s.dotless_domains:
                loc = F.when(
                    _in_list(d, s.dotless_domains), F.regexp_replace(loc, r"\.", "")
                ).otherwise(loc)
            return F.concat(F.nullif(loc, F.lit("")), F.lit("@"), d)

        return let(domain, with_domain)

    def body(v: Column) -> Column:
        def check(normalised: Column) -> Column:
            is_placeholder = F.lit(False)
            for pattern in s.placeholder_patterns:
                is_placeholder = is_placeholder | normalised.rlike(pattern) | v.rlike(pattern)
            ok = v.rlike(EMAIL_REGEX) & ~is_placeholder
            return F.when(ok, normalised).otherwise(F.lit(None).cast("string"))

        return let(normalised_of(v), check)

    return let(value, body)


# ----------------------------------------------------------------------------- phone


def _parse_phone_series(values: pd.Series, regions: pd.Series, strict: bool) -> pd.DataFrame:
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    mobile_types = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
    cache: dict[tuple[str, str], tuple[str | None, bool | None]] = {}

    def one(value: Any, region: Any) -> tuple[str | None, bool | None]:
        if not isinstance(value, str) or not value.strip():
            return (None, None)
        reg = region.upper() if isinstance(region, str) and len(region) == 2 else None
        key = (value, reg or "")
        if key in cache:
            return cache[key]
        text = value.strip()
        if text.startswith("00"):
            text = "+" + text[2:]
        out: tuple[str | None, bool | None] = (None, None)
        try:
            num = phonenumbers.parse(text, reg)
            if phonenumbers.is_valid_number(num):
                out = (
                    phonenumbers.format_number(num, PhoneNumberFormat.E164),
                    phonenumbers.number_type(num) in mobile_types,
                )
            elif not strict and phonenumbers.is_possible_number(num):
                # a well-formed number of an unallocated range: kept, its type is unknown
                out = (phonenumbers.format_number(num, PhoneNumberFormat.E164), None)
        except phonenumbers.NumberParseException:
            pass
        cache[key] = out
        return out

    rows = [one(v, r) for v, r in zip(values, regions, strict=True)]
    return pd.DataFrame(rows, columns=["e164", "mobile"])


@lru_cache(maxsize=2)
def _phone_udf(strict: bool) -> Any:
    def parse(values: pd.Series, regions: pd.Series) -> pd.DataFrame:
        return _parse_phone_series(values, regions, strict)

    return F.pandas_udf(parse, PHONE_STRUCT)  # type: ignore[call-overload]


def parse_phone(col: Column, region: Column, validation: str = "valid") -> Column:
    """Parse a phone number with ``phonenumbers``: ``struct<e164: string, mobile: boolean>``.

    ``region`` is the ISO country used when the number has no ``+``/``00`` prefix (the
    record's country, else the configured default). With ``validation="valid"`` only numbers
    of allocated ranges are kept (``is_valid_number``); with ``"possible"`` any number of a
    possible length for its country is kept (``is_possible_number``), ``mobile`` being null
    when the range is unknown. Rejected numbers give ``(null, null)``.
    """
    if validation not in ("valid", "possible"):
        raise ValueError(f"validation must be 'valid' or 'possible', got {validation!r}")
    return _phone_udf(validation == "valid")(col.cast("string"), region.cast("string"))


def phone_e164(col: Column, region: Column, validation: str = "valid") -> Column:
    """E.164 form of a phone number (``06 12 34 56 78`` in FR -> ``+33612345678``), or null."""
    return parse_phone(col, region, validation).getField("e164")


# ----------------------------------------------------------------------------- dates


def parse_date(col: Column, formats: Sequence[str]) -> Column:
    """First successful parse of a text date among ``formats`` (Spark patterns), else null.

    Never fails on bad input (``try_to_date``), even with ANSI mode on.
    """
    text = blank_to_null(col)
    parsed = [F.try_to_date(text, fmt) for fmt in formats]
    if not parsed:
        return F.try_to_date(text)
    return F.coalesce(*parsed) if len(parsed) > 1 else parsed[0]


def plausible_birth_date(col: Column, settings: BirthDateSettings, as_of: Column) -> Column:
    """Keep a birth date only when plausible: not a filler date, not before ``min_date``,
    age between ``min_age`` and ``max_age`` at ``as_of``. Otherwise null.
    """
    too_old = F.add_months(as_of, -12 * settings.max_age)
    too_young = F.add_months(as_of, -12 * settings.min_age)
    lower = F.greatest(F.to_date(F.lit(settings.min_date)), too_old)
    placeholders = [F.to_date(F.lit(d)) for d in settings.placeholder_dates]

    def body(d: Column) -> Column:
        is_placeholder = d.isin(*placeholders) if placeholders else F.lit(False)
        ok = (d >= lower) & (d <= too_young) & ~is_placeholder
        return F.when(ok, d).otherwise(F.lit(None).cast("date"))

    return let(col, body)


# ----------------------------------------------------------------------------- address


def _expand_tokens(col: Column, abbreviations: Mapping[str, str]) -> Column:
    if not abbreviations:
        return col
    abbr = F.create_map(*[F.lit(x) for kv in sorted(abbreviations.items()) for x in kv])
    tokens = F.split(col, " ")
    return F.array_join(
        F.transform(tokens, lambda t: F.coalesce(F.try_element_at(abbr, t), t)), " "
    )


def afnor_text(col: Column) -> Column:
    """Upper case, folded to ASCII, punctuation replaced by spaces, spaces collapsed."""
    value = F.upper(fold(col))
    value = F.regexp_replace(value, r"[^A-Z0-9]+", " ")
    return blank_to_null(value)


def clean_address_line(col: Column, settings: AddressSettings | None = None) -> Column:
    """AFNOR-style address line: ``12, av. des Champs-Élysées`` ->
    ``12 AVENUE DES CHAMPS ELYSEES``."""
    s = settings or AddressSettings()
    return blank_to_null(_expand_tokens(afnor_text(col), s.street_abbreviations))


def clean_city(col: Column, settings: AddressSettings | None = None) -> Column:
    """AFNOR-style city: ``St-Étienne Cedex 2`` -> ``SAINT ETIENNE``; ``Paris 15e`` -> ``PARIS``."""
    s = settings or AddressSettings()
    city_abbr = {k: v for k, v in s.street_abbreviations.items() if v in {"SAINT", "SAINTE"}}
    value = _expand_tokens(afnor_text(col), city_abbr)
    for pattern in s.city_patterns_removed:
        value = F.regexp_replace(value, pattern, "")
    return blank_to_null(value)


def clean_country(col: Column, aliases: Mapping[str, str]) -> Column:
    """ISO 3166-1 alpha-2 country code: ``fr`` -> ``FR``, ``France`` -> ``FR``; unknown -> null."""
    value = F.upper(F.translate(blank_to_null(col), "éèêëÉÈÊË", "eeeeEEEE"))
    value = F.trim(F.regexp_replace(value, r"[^A-Z]+", " "))
    amap = (
        F.create_map(*[F.lit(x) for kv in sorted(aliases.items()) for x in kv]) if aliases else None
    )

    def body(v: Column) -> Column:
        mapped = F.try_element_at(amap, v) if amap is not None else F.lit(None).cast("string")
        return F.coalesce(mapped, F.when(v.rlike(r"^[A-Z]{2}$"), v))

    return let(value, body)


def clean_postal_code(
    col: Column, country: Column, settings: AddressSettings | None = None
) -> Column:
    """Upper case, spaces / dots / hyphens removed, leading zeros restored where a country's
    codes have a fixed number of digits (``1000`` in FR -> ``01000``)."""
    s = settings or AddressSettings()
    value = F.upper(blank_to_null(col))
    value = F.regexp_replace(value, r"[\s.\-]", "")
    # 75015.0 from a spreadsheet
    value = F.regexp_replace(value, r"^([0-9]+)\.0$", "$1")

    def body(v: Column) -> Column:
        out = v
        for ctry, width in sorted(s.zero_pad_postal_codes.items()):
            pad = (country == F.lit(ctry)) & v.rlike(rf"^[0-9]{{{width - 1}}}$")
            out = F.when(pad, F.lpad(v, width, "0")).otherwise(out)
        return F.nullif(out, F.lit(""))

    return let(value, body)


def postal_code_is_valid(col: Column, country: Column, settings: AddressSettings) -> Column:
    """Whether a cleaned postal code fits its country's pattern (true when no pattern known)."""
    result = F.lit(True)
    for ctry, pattern in sorted(settings.postal_code_patterns.items(), reverse=True):
        result = F.when(country == F.lit(ctry), col.rlike(pattern)).otherwise(result)
    return F.when(col.isNull(), F.lit(None).cast("boolean")).otherwise(result)


# ----------------------------------------------------------------------------- identifiers


def clean_identifier(col: Column) -> Column:
    """Extra identifiers (loyalty card, customer number): upper case, only letters and digits."""
    value = F.upper(F.regexp_replace(col.cast("string"), r"[^0-9A-Za-z]", ""))
    return F.nullif(F.regexp_replace(value, r"^0+$", ""), F.lit(""))
