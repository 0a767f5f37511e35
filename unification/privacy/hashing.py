"""Normalise-then-hash helpers (Column -> Column) and column masking.

Two families, kept apart on purpose:

* **suppression hashes** (:func:`suppression_hash`): SHA-256 of the values exactly as
  ``silver.person_records`` holds them (normalised email in its matching form, E.164 phone,
  ``record_key``), so that ingestion, erasure and exports agree whatever the delivered format;
* **ad-platform hashes** (:func:`ads_email`, :func:`ads_phone`, :func:`ads_name`...): the
  normalisation each platform documents before SHA-256 (see docs/PRIVACY.md), applied to the
  contact values of the golden profile.

Python twins (:func:`sha256_hex`) give the same digests as Spark's ``sha2(..., 256)`` (UTF-8).

Examples:
    ```py
    df.select(sha256(ads_email(F.col("email_raw"), "meta")).alias("email_sha256"))
    ```
"""

from __future__ import annotations

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F

Convention = str  # "meta" | "google"

_GMAIL = ("gmail.com", "googlemail.com")


def sha256_hex(value: str) -> str:
    """SHA-256 (lower-case hex) of the UTF-8 bytes of ``value``: Spark's ``sha2(value, 256)``."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def sha256(col: Column) -> Column:
    """SHA-256 hex of a string column; null stays null (never the hash of an empty string)."""
    text = col.cast("string")
    return F.when(text.isNotNull() & (text != F.lit("")), F.sha2(text, 256))


def suppression_hash(col: Column) -> Column:
    """Hash of an already normalised identifier, as stored in ``ops.suppression``."""
    return sha256(col)


# --------------------------------------------------------------------------- ad platforms
def ads_email(col: Column, convention: Convention = "meta") -> Column:
    """Email normalised for customer match: trimmed, lower case; ``google`` also removes the
    dots of the user name of gmail.com / googlemail.com addresses."""
    value = F.lower(F.trim(col.cast("string")))
    value = F.when(value != F.lit(""), value)
    if convention == "google":
        local = F.substring_index(value, "@", 1)
        domain = F.substring_index(value, "@", -1)
        value = F.when(
            domain.isin(*_GMAIL), F.concat(F.regexp_replace(local, r"\.", ""), F.lit("@"), domain)
        ).otherwise(value)
    return value


def ads_phone(e164: Column, convention: Convention = "meta") -> Column:
    """Phone for customer match from an E.164 value: ``meta`` digits with the country code and
    no ``+`` (``33612345678``); ``google`` E.164 with ``+`` (``+33612345678``)."""
    digits = F.regexp_replace(e164.cast("string"), r"[^0-9]", "")
    digits = F.when(digits != F.lit(""), digits)
    if convention == "google":
        return F.concat(F.lit("+"), digits)
    return digits


def ads_name(col: Column, convention: Convention = "meta") -> Column:
    """First or last name for customer match: lower case; ``meta`` also drops punctuation and
    spaces (``Jean-Pierre`` -> ``jeanpierre``), ``google`` trims."""
    value = F.lower(F.trim(col.cast("string")))
    if convention == "meta":
        value = F.regexp_replace(value, r"[\p{P}\p{S}\s]+", "")
    return F.when(value != F.lit(""), value)


def ads_postal_code(col: Column) -> Column:
    """Postal code: lower case without spaces or dashes."""
    value = F.regexp_replace(F.lower(col.cast("string")), r"[\s-]+", "")
    return F.when(value != F.lit(""), value)


def ads_country(col: Column) -> Column:
    """ISO 3166-1 alpha-2 country, lower case."""
    value = F.lower(F.trim(col.cast("string")))
    return F.when(value != F.lit(""), value)


# --------------------------------------------------------------------------- masking
def mask_email(col: Column) -> Column:
    """``jean.dupont@example.com`` -> ``j***@example.com``."""
    text = F.trim(col.cast("string"))
    return F.when(
        text.contains("@"),
        F.concat(F.substring(text, 1, 1), F.lit("***@"), F.substring_index(text, "@", -1)),
    ).when(text.isNotNull(), F.lit("***"))


def mask_phone(col: Column) -> Column:
    """``+33612345678`` -> ``+3361*****78`` (first five and last two characters kept)."""
    text = F.trim(col.cast("string"))
    n = F.length(text)
    return F.when(
        n > 7,
        F.concat(
            F.substring(text, 1, 5),
            F.lit("*****"),
            F.substring(text, -2, 2),
        ),
    ).when(text.isNotNull(), F.lit("***"))


def mask_initial(col: Column) -> Column:
    """``Jean`` -> ``J.``."""
    text = F.trim(col.cast("string"))
    return F.when(text != F.lit(""), F.concat(F.upper(F.substring(text, 1, 1)), F.lit(".")))


def mask_generic(col: Column) -> Column:
    """Anything else: first character then ``***``."""
    text = col.cast("string")
    return F.when(text.isNotNull(), F.concat(F.substring(text, 1, 1), F.lit("***")))


def masked(name: str, col: Column, mode: str, convention: Convention = "meta") -> Column | None:
    """Apply ``activation.exports.masking`` mode ``mode`` to column ``name``.

    Returns:
        The new column, or None when the column must be dropped.
    """
    if mode == "keep":
        return col
    if mode == "drop":
        return None
    lowered = name.lower()
    if mode == "hash":
        if "email" in lowered:
            return sha256(ads_email(col, convention))
        if "phone" in lowered or "mobile" in lowered:
            return sha256(ads_phone(col, convention))
        return sha256(F.lower(F.trim(col.cast("string"))))
    if mode == "mask":
        if "email" in lowered:
            return mask_email(col)
        if "phone" in lowered or "mobile" in lowered:
            return mask_phone(col)
        if lowered in ("first_name", "last_name", "birth_name"):
            return mask_initial(col)
        return mask_generic(col)
    raise ValueError(f"unknown masking mode {mode!r}")
