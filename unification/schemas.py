"""Canonical table schemas shared between stages: the contracts between layers.

Each table states its grain and key. Stages must produce exactly these columns (extra columns
are allowed only where noted); tests assert keys are unique and not null.
"""

from __future__ import annotations

from pyspark.sql import types as T

# --------------------------------------------------------------------------- bronze
#: Technical columns added to every bronze table.
BRONZE_META_COLUMNS: tuple[str, ...] = (
    "_source",  # source system name, e.g. "ecommerce"
    "_entity",  # entity name, e.g. "customers"
    "_batch_id",  # sha256 of the file content: same content = same batch
    "_source_file",  # path of the delivered file
    "_row_number",  # 1-based position of the row in the file (data rows)
    "_ingested_at",  # timestamp of the ingest run
    "_row_hash",  # sha256 of the raw row content
    "_run_id",
)

# --------------------------------------------------------------------------- silver
#: Canonical person fields that a source's ``person.fields`` mapping may fill.
PERSON_FIELDS: tuple[str, ...] = (
    "title",
    "first_name",
    "last_name",
    "birth_name",  # maiden name when delivered
    "birth_date",
    "gender",
    "email",
    "phone",
    "mobile",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "region",
    "country",
)

#: ``silver.person_records``: grain one row per source identity record; key ``record_key``.
#: ``record_key`` = ``<source>:<entity>:<source_id>``.
PERSON_RECORDS = T.StructType(
    [
        T.StructField("record_key", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("entity", T.StringType(), False),
        T.StructField("source_id", T.StringType(), False),
        # standardised identity fields (null when missing or invalid)
        T.StructField("first_name", T.StringType(), True),
        T.StructField("last_name", T.StringType(), True),
        T.StructField("birth_name", T.StringType(), True),
        T.StructField("birth_date", T.DateType(), True),
        T.StructField("gender", T.StringType(), True),
        T.StructField("email", T.StringType(), True),  # normalised for matching
        T.StructField("email_raw", T.StringType(), True),  # as delivered (trimmed), for contact
        T.StructField("phone", T.StringType(), True),  # E.164, landline or mobile
        T.StructField("mobile", T.StringType(), True),  # E.164, mobile only
        T.StructField("address_line1", T.StringType(), True),
        T.StructField("address_line2", T.StringType(), True),
        T.StructField("postal_code", T.StringType(), True),
        T.StructField("city", T.StringType(), True),
        T.StructField("region", T.StringType(), True),
        T.StructField("country", T.StringType(), True),  # ISO 3166-1 alpha-2
        # extra identifiers declared in conf, e.g. {"loyalty_card": "..."}
        T.StructField("identifiers", T.MapType(T.StringType(), T.StringType()), True),
        # validity flags: False = a value was delivered but rejected
        T.StructField("email_valid", T.BooleanType(), True),
        T.StructField("phone_valid", T.BooleanType(), True),
        T.StructField("birth_date_valid", T.BooleanType(), True),
        T.StructField("address_valid", T.BooleanType(), True),
        T.StructField("updated_at", T.TimestampType(), True),  # the source's own timestamp
        T.StructField("_batch_id", T.StringType(), True),
        T.StructField("_run_id", T.StringType(), True),
    ]
)

#: ``silver.consent_events``: one row per consent statement; key ``event_key``.
CONSENT_EVENTS = T.StructType(
    [
        T.StructField(
            "event_key", T.StringType(), False
        ),  # sha256(record_key, channel, at, opt_in)
        T.StructField("record_key", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("source_id", T.StringType(), False),
        T.StructField("channel", T.StringType(), False),  # email | sms | phone | post
        T.StructField("opt_in", T.BooleanType(), False),
        T.StructField("event_at", T.TimestampType(), False),
        T.StructField("_batch_id", T.StringType(), True),
    ]
)

#: ``silver.match_pairs``: one row per scored or deterministic pair; key
#: (``record_key_l``, ``record_key_r``) with ``record_key_l < record_key_r``.
#: Extra columns allowed: per-comparison levels ``gamma_<name>`` and ``bf_<name>``.
MATCH_PAIRS_KEY: tuple[str, ...] = ("record_key_l", "record_key_r")
MATCH_PAIRS_CORE = T.StructType(
    [
        T.StructField("record_key_l", T.StringType(), False),
        T.StructField("record_key_r", T.StringType(), False),
        T.StructField("match_weight", T.DoubleType(), True),
        T.StructField("match_probability", T.DoubleType(), True),
        T.StructField("match_rule", T.StringType(), True),  # "splink" | "email" | "must_link" ...
        T.StructField("_run_id", T.StringType(), True),
    ]
)

#: ``silver.record_clusters``: one row per record; key ``record_key``.
RECORD_CLUSTERS = T.StructType(
    [
        T.StructField("record_key", T.StringType(), False),
        T.StructField("cluster_id", T.StringType(), False),  # changes between runs
        T.StructField("cluster_size", T.LongType(), True),
        T.StructField("_run_id", T.StringType(), True),
    ]
)

# --------------------------------------------------------------------------- gold
#: ``gold.identity_graph``: one row per source record; key (``source``, ``entity``,
#: ``source_id``) and unique ``record_key``.
IDENTITY_GRAPH = T.StructType(
    [
        T.StructField("record_key", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("entity", T.StringType(), False),
        T.StructField("source_id", T.StringType(), False),
        T.StructField("customer_id", T.StringType(), False),
        T.StructField("link_confidence", T.DoubleType(), True),
        T.StructField("first_seen", T.TimestampType(), True),
        T.StructField("last_seen", T.TimestampType(), True),
        T.StructField("_run_id", T.StringType(), True),
    ]
)

#: ``gold.orders``: one row per order (online and store); key ``order_key``
#: = ``<source>:<order_id>``.
ORDERS = T.StructType(
    [
        T.StructField("order_key", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("order_id", T.StringType(), False),
        T.StructField("customer_id", T.StringType(), True),  # null while anonymous
        T.StructField("record_key", T.StringType(), True),  # the person record it links to
        T.StructField("channel", T.StringType(), False),  # online | store
        T.StructField("order_ts", T.TimestampType(), False),
        T.StructField("amount", T.DoubleType(), True),
        T.StructField("currency", T.StringType(), True),
        T.StructField("store_id", T.StringType(), True),
        T.StructField("status", T.StringType(), True),
    ]
)

#: ``gold.interactions``: one row per event; key ``event_key``.
INTERACTIONS = T.StructType(
    [
        T.StructField("event_key", T.StringType(), False),
        T.StructField("customer_id", T.StringType(), True),  # null while anonymous
        T.StructField("record_key", T.StringType(), True),
        T.StructField("anonymous_id", T.StringType(), True),  # cookie id, ticket id...
        T.StructField("source", T.StringType(), False),
        T.StructField(
            "kind", T.StringType(), False
        ),  # order | web_event | web_session | email_event | contact
        T.StructField("channel", T.StringType(), False),  # online | store | web | email | phone...
        T.StructField("event_type", T.StringType(), True),  # purchase, page_view, open, click...
        T.StructField("event_ts", T.TimestampType(), False),
        T.StructField("amount", T.DoubleType(), True),
    ]
)
