"""Schemas of the 360 view and the fields each event kind may map.

``gold.orders`` and ``gold.interactions`` are :data:`unification.schemas.ORDERS` and
:data:`unification.schemas.INTERACTIONS`. ``gold.order_lines`` is defined here.

Grain and keys:

* ``gold.orders``: one row per order (online and store); key ``order_key`` =
  ``<source>:<order_id>``.
* ``gold.order_lines``: one row per order line; key ``line_key`` = ``<order_key>:<line_id>``
  (equivalently (``order_key``, ``line_id``)).
* ``gold.interactions``: one row per event; key ``event_key``:
  ``order:<order_key>`` for orders, ``<source>:<entity>:<kind>:<event_id>`` for mapped events
  (a content hash replaces ``event_id`` when the source has none), and
  ``<source>:web_session:<hash>`` for the web sessions derived from web events.
"""

from __future__ import annotations

from pyspark.sql import types as T

#: ``gold.order_lines``: one row per order line; key ``line_key``.
ORDER_LINES = T.StructType(
    [
        T.StructField("line_key", T.StringType(), False),
        T.StructField("order_key", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("order_id", T.StringType(), False),
        T.StructField("line_id", T.StringType(), False),
        T.StructField("customer_id", T.StringType(), True),  # of the order; null while anonymous
        T.StructField("order_ts", T.TimestampType(), True),  # of the order
        T.StructField("product_id", T.StringType(), True),
        T.StructField("category", T.StringType(), True),
        T.StructField("quantity", T.DoubleType(), True),
        T.StructField("unit_price", T.DoubleType(), True),
        T.StructField("amount", T.DoubleType(), True),  # quantity * unit_price when not delivered
    ]
)

_S, _TS, _D = T.StringType(), T.TimestampType(), T.DoubleType()
_EVENT_FIELDS: dict[str, T.DataType] = {
    "event_id": _S,
    "event_ts": _TS,
    "event_type": _S,
    "channel": _S,
    "anonymous_id": _S,
    "amount": _D,
}

#: Target fields an ``events:`` mapping of each kind may fill, with their Spark types.
KIND_FIELDS: dict[str, dict[str, T.DataType]] = {
    "order": {
        "order_id": _S,
        "order_ts": _TS,
        "amount": _D,
        "currency": _S,
        "store_id": _S,
        "status": _S,
        "channel": _S,
        "anonymous_id": _S,
    },
    "order_line": {
        "order_id": _S,
        "line_id": _S,
        "product_id": _S,
        "category": _S,
        "quantity": _D,
        "unit_price": _D,
        "amount": _D,
    },
    "web_event": {**_EVENT_FIELDS, "session_id": _S},
    "email_event": dict(_EVENT_FIELDS),
    "contact": dict(_EVENT_FIELDS),
}

#: Fields a mapping of each kind must fill (``order_line`` needs ``line_id`` or ``product_id``).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "order": ("order_id", "order_ts"),
    "order_line": ("order_id",),
    "web_event": ("event_ts",),
    "email_event": ("event_ts",),
    "contact": ("event_ts",),
}
