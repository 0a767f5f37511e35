"""Tables of the privacy and activation layer: names, schemas, grains and keys.

None of them holds a name, an email or a phone number in clear.

* ``ops.suppression``: grain one hashed identifier of an erased person; key (``kind``,
  ``hash``). ``hash`` is the SHA-256 (hex) of the normalised identifier: the record key
  ``source:entity:source_id``, the normalised email, or the E.164 phone. Ingestion drops rows
  that match (:func:`unification.privacy.suppression.drop_suppressed`).
* ``ops.erasure_log``: grain one erasure request; key ``request_id``. The audit trail: when,
  which kind of identifier (hashed), how many rows were deleted from which table.
* ``ops.export_log``: grain one export file; key (``run_id``, ``segment``, ``channel``).
* ``ops.syncback_state``: grain one source system; key ``source``. The watermark: the last
  ``gold.golden_profiles`` version whose changes that source has been sent.
* ``ops.syncback_log``: grain one sync-back file; key (``run_id``, ``source``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pyspark.sql import types as T

if TYPE_CHECKING:
    from unification.lakehouse import Layer

SUPPRESSION_TABLE: Final[tuple[Layer, str]] = ("ops", "suppression")
ERASURE_LOG_TABLE: Final[tuple[Layer, str]] = ("ops", "erasure_log")
EXPORT_LOG_TABLE: Final[tuple[Layer, str]] = ("ops", "export_log")
SYNCBACK_STATE_TABLE: Final[tuple[Layer, str]] = ("ops", "syncback_state")
SYNCBACK_LOG_TABLE: Final[tuple[Layer, str]] = ("ops", "syncback_log")

#: ``ops.suppression``: key (``kind``, ``hash``).
SUPPRESSION = T.StructType(
    [
        T.StructField("kind", T.StringType(), False),  # record | email | phone
        T.StructField("hash", T.StringType(), False),  # sha256 hex of the normalised value
        T.StructField("request_id", T.StringType(), True),  # the erasure that added it
        T.StructField("added_at", T.TimestampType(), False),
    ]
)

#: ``ops.erasure_log``: key ``request_id``.
ERASURE_LOG = T.StructType(
    [
        T.StructField("request_id", T.StringType(), False),
        T.StructField("run_id", T.StringType(), False),  # requests erased together share it
        T.StructField("requested_at", T.TimestampType(), False),
        T.StructField("completed_at", T.TimestampType(), True),
        T.StructField("identifier_kind", T.StringType(), False),  # email | phone | ...
        T.StructField("identifier_hash", T.StringType(), True),  # sha256 of the normalised value
        T.StructField("scope", T.StringType(), False),  # customer | records | record
        T.StructField("status", T.StringType(), False),  # erased | not_found | dry_run
        T.StructField("records_erased", T.LongType(), False),  # records of this request
        T.StructField("customers_affected", T.LongType(), False),
        # rows deleted per table, for the whole run (every request of the run together)
        T.StructField("rows_deleted", T.MapType(T.StringType(), T.LongType()), True),
        T.StructField("suppressed_hashes", T.LongType(), False),
    ]
)

#: ``ops.export_log``: key (``run_id``, ``segment``, ``channel``).
EXPORT_LOG = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("segment", T.StringType(), False),
        T.StructField("channel", T.StringType(), False),
        T.StructField("as_of", T.DateType(), True),  # feature snapshot used
        T.StructField("hashed", T.BooleanType(), False),
        T.StructField("format", T.StringType(), False),
        T.StructField("path", T.StringType(), True),
        T.StructField("rows", T.LongType(), False),
        # members left out, by reason (no_profile, no_contact, no_consent, opted_out, suppressed)
        T.StructField("excluded", T.MapType(T.StringType(), T.LongType()), True),
        T.StructField("at", T.TimestampType(), False),
    ]
)

#: ``ops.syncback_state``: key ``source``.
SYNCBACK_STATE = T.StructType(
    [
        T.StructField("source", T.StringType(), False),
        T.StructField("last_version", T.LongType(), False),  # of gold.golden_profiles
        T.StructField("run_id", T.StringType(), False),
        T.StructField("updated_at", T.TimestampType(), False),
    ]
)

#: ``ops.syncback_log``: key (``run_id``, ``source``).
SYNCBACK_LOG = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("mode", T.StringType(), False),  # changes | snapshot | none
        T.StructField("from_version", T.LongType(), True),  # exclusive
        T.StructField("to_version", T.LongType(), True),  # inclusive
        T.StructField("rows", T.LongType(), False),
        T.StructField("rows_by_change", T.MapType(T.StringType(), T.LongType()), True),
        T.StructField("path", T.StringType(), True),
        T.StructField("at", T.TimestampType(), False),
    ]
)
