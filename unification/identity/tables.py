"""Tables of the identity layer: names, schemas, grains and keys.

* ``gold.identity_graph`` (:data:`unification.schemas.IDENTITY_GRAPH`): one row per source
  person record; key ``record_key`` (= ``source:entity:source_id``, so also unique on
  (``source``, ``entity``, ``source_id``)). The crosswalk source record -> ``customer_id``.
* ``gold.customer_id_history`` (:data:`CUSTOMER_ID_HISTORY`): one row per id lifecycle event;
  key ``event_id``. Append-only; a run on unchanged input writes no event.
* ``silver.human_decisions`` (:data:`HUMAN_DECISIONS`): one row per must-link / cannot-link
  decision on a pair of records; key ``decision_id`` (a hash of kind and the ordered pair, so
  the same decision added twice is one row). Decisions are never deleted, only deactivated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pyspark.sql import types as T

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from unification.lakehouse import Lakehouse, Layer

IDENTITY_GRAPH_TABLE: Final[tuple[Layer, str]] = ("gold", "identity_graph")
HISTORY_TABLE: Final[tuple[Layer, str]] = ("gold", "customer_id_history")
DECISIONS_TABLE: Final[tuple[Layer, str]] = ("silver", "human_decisions")

#: Event types of ``gold.customer_id_history``.
EVENT_CREATED: Final = "created"  # a new cluster that continues no earlier customer
EVENT_SPLIT: Final = "split"  # a new id for records that left an earlier customer
EVENT_MERGED: Final = "merged"  # an earlier id absorbed into ``related_customer_id``
EVENT_RETIRED: Final = "retired"  # an earlier id none of whose records exist any more
EVENT_TYPES: Final = (EVENT_CREATED, EVENT_SPLIT, EVENT_MERGED, EVENT_RETIRED)

#: ``gold.customer_id_history``: grain one id event; key ``event_id``.
#: ``event_id`` = hash of (event_type, customer_id, related_customer_id): each of these
#: happens at most once in an id's life, so a retried run cannot duplicate an event.
CUSTOMER_ID_HISTORY = T.StructType(
    [
        T.StructField("event_id", T.StringType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("event_type", T.StringType(), False),
        T.StructField("customer_id", T.StringType(), False),  # the id the event is about
        # merged: the surviving id; split: the id the records left; else null
        T.StructField("related_customer_id", T.StringType(), True),
        T.StructField("n_records", T.LongType(), True),
        T.StructField("reason", T.StringType(), True),
        T.StructField("at", T.TimestampType(), False),
    ]
)

#: ``silver.human_decisions``: grain one decision on an ordered pair; key ``decision_id``.
HUMAN_DECISIONS = T.StructType(
    [
        T.StructField("decision_id", T.StringType(), False),
        T.StructField("kind", T.StringType(), False),  # must_link | cannot_link
        T.StructField("record_key_l", T.StringType(), False),  # record_key_l < record_key_r
        T.StructField("record_key_r", T.StringType(), False),
        T.StructField("reason", T.StringType(), True),
        T.StructField("author", T.StringType(), True),
        T.StructField("decided_at", T.TimestampType(), False),
        T.StructField("active", T.BooleanType(), False),
        T.StructField("revoked_at", T.TimestampType(), True),
    ]
)


def create_table(
    spark: SparkSession, lh: Lakehouse, layer: Layer, table: str, schema: T.StructType
) -> None:
    """Create an empty Delta table with exactly ``schema`` if it does not exist yet.

    Unlike a DataFrame write, the Delta table builder keeps ``nullable=False`` as NOT NULL
    constraints, so Delta itself refuses a null key or customer id.
    """
    from delta.tables import DeltaTable

    if lh.exists(spark, layer, table):
        return
    builder = DeltaTable.createIfNotExists(spark).addColumns(schema)
    if lh.is_local:
        builder = builder.location(lh.path(layer, table))
    else:
        builder = builder.tableName(lh.name(layer, table))
    builder.execute()
