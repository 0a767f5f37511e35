"""Typed settings of the ``standardise`` stage (section ``standardise:`` of the run config).

Every list below is a default that a run config may replace (a YAML list replaces the default
list as a whole). Values are compared after trimming, lower-casing and Unicode folding, so
``"Inconnu"``, ``" INCONNU "`` and ``"inconnu"`` are the same placeholder.

Examples:
    ```yaml
    standardise:
      default_region: BE          # phones without a country prefix are Belgian
      placeholder_values: [inconnu, unknown, "0000000000", n/a]
      birth_date:
        formats: ["yyyy-MM-dd", "dd/MM/yyyy", "yyyyMMdd"]
        min_age: 16
    ```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NameSettings(_Settings):
    """Names: titles removed, case normalised; matching keys are folded and compacted."""

    titles: list[str] = Field(
        default_factory=lambda: [
            "m",
            "mr",
            "mme",
            "mlle",
            "mrs",
            "ms",
            "miss",
            "mx",
            "dr",
            "pr",
            "prof",
            "me",
            "mgr",
            "monsieur",
            "madame",
            "mademoiselle",
            "docteur",
            "professeur",
            "maitre",
            "sir",
            "lady",
            "herr",
            "frau",
            "sr",
            "sra",
            "srta",
        ],
        description="honorifics removed from the start of first and last names",
    )
    female_titles: list[str] = Field(
        default_factory=lambda: ["mme", "mlle", "mrs", "ms", "miss", "madame", "mademoiselle"],
        description="titles that imply gender F when no gender is delivered",
    )
    male_titles: list[str] = Field(
        default_factory=lambda: ["m", "mr", "monsieur", "sir", "herr", "sr"],
        description="titles that imply gender M when no gender is delivered",
    )
    particles: list[str] = Field(
        default_factory=lambda: [
            "de",
            "du",
            "des",
            "d",
            "la",
            "le",
            "les",
            "l",
            "van",
            "von",
            "der",
            "den",
            "di",
            "da",
            "del",
            "della",
            "dos",
            "das",
            "ten",
            "ter",
            "zu",
        ],
        description="name particles: lower-cased in display names, dropped from the "
        "particle-free last name key",
    )


class EmailSettings(_Settings):
    """Emails: lower case, provider rules, placeholders."""

    placeholder_patterns: list[str] = Field(
        default_factory=lambda: [
            r"^(no|pas|sans|aucun|aucune|non)[._-]?(de[._-]?)?(e?mail|adresse|address|mel)s?\d*@",
            r"^no[._-]?reply@",
            r"^(test|tests|xxx+|aaa+|abc|none|null|nobody|inconnu|unknown|anonyme|anonymous|"
            r"nomail|noemail|dummy|fake|client|customer|a|x)\d*@",
            r"@(test|example|exemple|nomail|noemail|invalid|fake|dummy|domain|domaine|xxx+)"
            r"\.[a-z]+$",
            r"@(example|invalid|test|localhost|local)$",
        ],
        description="regular expressions over the normalised address; a match nulls it",
    )
    domain_aliases: dict[str, str] = Field(
        default_factory=lambda: {
            "googlemail.com": "gmail.com",
            "gmail.fr": "gmail.com",
            "gmial.com": "gmail.com",
            "gmal.com": "gmail.com",
            "gmail.con": "gmail.com",
            "hotmial.com": "hotmail.com",
            "hotmail.con": "hotmail.com",
            "hotmal.fr": "hotmail.fr",
            "yahoo.con": "yahoo.com",
            "wanadoo.con": "wanadoo.fr",
        },
        description="domain rewrites (provider aliases and frequent typos), applied first",
    )
    dotless_domains: list[str] = Field(
        default_factory=lambda: ["gmail.com"],
        description="providers that ignore dots in the local part",
    )
    plus_tag_domains: list[str] = Field(
        default_factory=lambda: ["*"],
        description="providers where '+tag' is an alias of the same mailbox ('*': all; "
        "a '+' in a local part almost never separates two people)",
    )


class BirthDateSettings(_Settings):
    """Birth dates: parsing formats and plausibility bounds."""

    formats: list[str] = Field(
        default_factory=lambda: [
            "yyyy-MM-dd",
            "yyyyMMdd",
            "dd/MM/yyyy",
            "d/M/yyyy",
            "dd-MM-yyyy",
            "dd.MM.yyyy",
            "yyyy/MM/dd",
            "yyyy-MM-dd HH:mm:ss",
            "yyyy-MM-dd'T'HH:mm:ss",
        ],
        description="Spark datetime patterns tried in order on birth dates delivered as text "
        "(day-first before month-first: the order settles ambiguous dates)",
    )
    min_date: str = Field(default="1900-01-02", description="earliest plausible birth date")
    min_age: int = Field(default=0, ge=0, description="youngest plausible age in years")
    max_age: int = Field(default=120, gt=0, description="oldest plausible age in years")
    placeholder_dates: list[str] = Field(
        default_factory=lambda: ["1900-01-01", "1901-01-01", "1899-12-31", "9999-12-31"],
        description="dates used as fillers by source systems (ISO), nulled and flagged",
    )


class AddressSettings(_Settings):
    """Addresses: postal code formats per country, street-type abbreviations."""

    postal_code_patterns: dict[str, str] = Field(
        default_factory=lambda: {
            "FR": r"^[0-9]{5}$",
            "BE": r"^[0-9]{4}$",
            "CH": r"^[0-9]{4}$",
            "LU": r"^[0-9]{4}$",
            "DE": r"^[0-9]{5}$",
            "ES": r"^[0-9]{5}$",
            "IT": r"^[0-9]{5}$",
            "NL": r"^[0-9]{4}[A-Z]{2}$",
            "GB": r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$",
            "US": r"^[0-9]{5}$",
        },
        description="valid postal codes per ISO country (after upper-casing)",
    )
    zero_pad_postal_codes: dict[str, int] = Field(
        default_factory=lambda: {"FR": 5, "DE": 5, "ES": 5, "IT": 5, "US": 5},
        description="restore leading zeros lost by spreadsheets (4 digits -> 05xxx)",
    )
    street_abbreviations: dict[str, str] = Field(
        default_factory=lambda: {
            "BD": "BOULEVARD",
            "BLD": "BOULEVARD",
            "BVD": "BOULEVARD",
            "AV": "AVENUE",
            "AVE": "AVENUE",
            "R": "RUE",
            "PL": "PLACE",
            "CHE": "CHEMIN",
            "CH": "CHEMIN",
            "RTE": "ROUTE",
            "IMP": "IMPASSE",
            "ALL": "ALLEE",
            "FG": "FAUBOURG",
            "FBG": "FAUBOURG",
            "SQ": "SQUARE",
            "QU": "QUAI",
            "CRS": "COURS",
            "LOT": "LOTISSEMENT",
            "RES": "RESIDENCE",
            "ST": "SAINT",
            "STE": "SAINTE",
            "APT": "APPARTEMENT",
            "BAT": "BATIMENT",
        },
        description="tokens of address lines and cities expanded to their full form",
    )
    city_patterns_removed: list[str] = Field(
        default_factory=lambda: [r"\s+CEDEX(\s+[0-9]+)?$", r"\s+[0-9]{1,2}(E|EME|ER)?$"],
        description="regular expressions removed from the standardised city (CEDEX, "
        "arrondissement numbers)",
    )


class StandardiseSettings(BaseModel):
    """Settings of the standardise stage. Defaults live here; YAML overrides them."""

    model_config = ConfigDict(extra="forbid")

    default_region: str = Field(
        default="FR",
        description="ISO country used to read phone numbers without a country prefix "
        "when the record has no country",
    )
    phone_validation: Literal["valid", "possible"] = Field(
        default="possible",
        description="'valid': keep numbers of allocated ranges only (phonenumbers "
        "is_valid_number); 'possible': keep any number of a possible length for its country "
        "(is_possible_number), which survives numbering-plan updates and test ranges",
    )
    mobile_prefixes: dict[str, list[str]] = Field(
        default_factory=lambda: {"FR": ["+336", "+337"]},
        description="E.164 prefixes treated as mobile when phonenumbers does not know the "
        "range (phone_validation: possible)",
    )
    placeholder_values: list[str] = Field(
        default_factory=lambda: [
            "0000000000",
            "0",
            "inconnu",
            "inconnue",
            "unknown",
            "n/a",
            "na",
            "n.a.",
            "nan",
            "none",
            "null",
            "nil",
            "-",
            "--",
            ".",
            "?",
            "x",
            "xx",
            "xxx",
            "xxxx",
            "test",
            "nc",
            "n.c.",
            "non renseigne",
            "non renseignee",
            "non communique",
            "nr",
            "neant",
            "aucun",
            "aucune",
            "sans",
            "anonyme",
            "anonymous",
            "noname",
            "no name",
            "dummy",
            "tbd",
            "a completer",
        ],
        description="values nulled in every identity field before standardisation, so they "
        "neither match nor build giant blocks",
    )
    placeholder_patterns: list[str] = Field(
        default_factory=lambda: [r"^([0-9])\1{5,}$", r"^0123456789$", r"^123456789?$"],
        description="regular expressions over the trimmed value; a match nulls it",
    )
    country_aliases: dict[str, str] = Field(
        default_factory=lambda: {
            "FRANCE": "FR",
            "FRA": "FR",
            "BELGIQUE": "BE",
            "BELGIUM": "BE",
            "BEL": "BE",
            "SUISSE": "CH",
            "SWITZERLAND": "CH",
            "CHE": "CH",
            "LUXEMBOURG": "LU",
            "LUX": "LU",
            "ALLEMAGNE": "DE",
            "GERMANY": "DE",
            "DEU": "DE",
            "ESPAGNE": "ES",
            "SPAIN": "ES",
            "ESP": "ES",
            "ITALIE": "IT",
            "ITALY": "IT",
            "ITA": "IT",
            "PAYS BAS": "NL",
            "NETHERLANDS": "NL",
            "NLD": "NL",
            "ROYAUME UNI": "GB",
            "UNITED KINGDOM": "GB",
            "UK": "GB",
            "GBR": "GB",
            "ETATS UNIS": "US",
            "UNITED STATES": "US",
            "USA": "US",
        },
        description="country names / alpha-3 codes mapped to ISO 3166-1 alpha-2",
    )
    names: NameSettings = Field(default_factory=NameSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    birth_date: BirthDateSettings = Field(default_factory=BirthDateSettings)
    address: AddressSettings = Field(default_factory=AddressSettings)
