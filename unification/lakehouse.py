"""Table names and Delta read / write / merge helpers.

Locally (the embedded default) every table is a path-based Delta folder
``<root>/<layer>/<table>/``. With ``lakehouse.catalog`` set, tables are addressed by name
``<catalog>.<layer><schema_suffix>.<table>`` in the metastore (Databricks Unity Catalog).

Every write goes through this module so that:

* each write records the run that made it (``userMetadata`` = run id in the Delta log);
* appends can be made idempotent with Delta's ``txnAppId`` / ``txnVersion`` options;
* upserts use the Delta merge builder (no read-modify-overwrite of whole tables).

Examples:
    ```py
    lh = Lakehouse(cfg.lakehouse)
    lh.write(df, "silver", "person_records", mode="overwrite", run_id=run_id)
    lh.read(spark, "silver", "person_records")
    ```
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from unification.config import LakehouseConfig

logger = logging.getLogger(__name__)

Layer = Literal["bronze", "silver", "gold", "ops"]
WriteMode = Literal["append", "overwrite"]


class Lakehouse:
    """Addresses and writes the Delta tables of one lakehouse."""

    def __init__(self, cfg: LakehouseConfig) -> None:
        self.cfg = cfg

    # ------------------------------------------------------------------ naming
    @property
    def is_local(self) -> bool:
        """True for a path-based lakehouse (no catalog)."""
        return self.cfg.catalog is None

    def path(self, layer: Layer, table: str) -> str:
        """Folder of a path-based table."""
        return str(Path(self.cfg.root) / layer / table)

    def name(self, layer: Layer, table: str) -> str:
        """Metastore name of a table (catalog mode), or ``delta.`<path>``` locally."""
        if self.is_local:
            return f"delta.`{self.path(layer, table)}`"
        return f"{self.cfg.catalog}.{layer}{self.cfg.schema_suffix}.{table}"

    # ------------------------------------------------------------------ reading
    def exists(self, spark: SparkSession, layer: Layer, table: str) -> bool:
        """Whether the table exists (and is a Delta table)."""
        if self.is_local:
            return DeltaTable.isDeltaTable(spark, self.path(layer, table))
        return bool(spark.catalog.tableExists(self.name(layer, table)))

    def read(self, spark: SparkSession, layer: Layer, table: str) -> DataFrame:
        """Read the current version of a table."""
        if self.is_local:
            return spark.read.format("delta").load(self.path(layer, table))
        return spark.read.table(self.name(layer, table))

    def read_or_none(self, spark: SparkSession, layer: Layer, table: str) -> DataFrame | None:
        """Read a table, or None when it does not exist yet."""
        return self.read(spark, layer, table) if self.exists(spark, layer, table) else None

    def delta_table(self, spark: SparkSession, layer: Layer, table: str) -> DeltaTable:
        """The :class:`DeltaTable` handle (for merge, history, vacuum)."""
        if self.is_local:
            return DeltaTable.forPath(spark, self.path(layer, table))
        return DeltaTable.forName(spark, self.name(layer, table))

    def version(self, spark: SparkSession, layer: Layer, table: str) -> int | None:
        """Current Delta version of a table, None if it does not exist."""
        if not self.exists(spark, layer, table):
            return None
        row = self.delta_table(spark, layer, table).history(1).select("version").first()
        return int(row[0]) if row else None

    # ------------------------------------------------------------------ writing
    def write(
        self,
        df: DataFrame,
        layer: Layer,
        table: str,
        *,
        mode: WriteMode = "append",
        run_id: str | None = None,
        partition_by: Sequence[str] | None = None,
        txn: tuple[str, int] | None = None,
        overwrite_schema: bool = False,
        merge_schema: bool = False,
        table_properties: dict[str, str] | None = None,
    ) -> None:
        """Write ``df`` to a Delta table in one transaction.

        Args:
            df: the rows.
            layer: bronze, silver, gold or ops.
            table: table name inside the layer.
            mode: ``append`` or ``overwrite`` (a full replace, one atomic commit).
            run_id: recorded as the commit's ``userMetadata``.
            partition_by: partition columns when the table is created.
            txn: ``(app_id, version)``: Delta skips the write if this application already
                committed this version (idempotent retries of the same batch).
            overwrite_schema: allow an overwrite to change the schema.
            merge_schema: allow an append to add columns (schema evolution).
            table_properties: set on creation, e.g. ``{"delta.enableChangeDataFeed": "true"}``.
        """
        writer = df.write.format("delta").mode(mode)
        if run_id:
            writer = writer.option("userMetadata", run_id)
        if txn is not None:
            writer = writer.option("txnAppId", txn[0]).option("txnVersion", str(txn[1]))
        if overwrite_schema:
            writer = writer.option("overwriteSchema", "true")
        if merge_schema:
            writer = writer.option("mergeSchema", "true")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        exists = self.exists(df.sparkSession, layer, table)
        if table_properties and not exists:
            for key, value in table_properties.items():
                writer = writer.option(key, value)
        if self.is_local:
            writer.save(self.path(layer, table))
        else:
            if not exists:
                df.sparkSession.sql(
                    f"CREATE SCHEMA IF NOT EXISTS {self.cfg.catalog}.{layer}{self.cfg.schema_suffix}"
                )
            writer.saveAsTable(self.name(layer, table))
        if table_properties and not exists:
            self.set_properties(df.sparkSession, layer, table, table_properties)
        logger.debug("wrote %s.%s (%s)", layer, table, mode)

    def set_properties(
        self, spark: SparkSession, layer: Layer, table: str, properties: dict[str, str]
    ) -> None:
        """``ALTER TABLE ... SET TBLPROPERTIES`` (e.g. to turn Change Data Feed on)."""
        props = ", ".join(f"'{k}' = '{v}'" for k, v in properties.items())
        spark.sql(f"ALTER TABLE {self.name(layer, table)} SET TBLPROPERTIES ({props})")

    def ensure_table(
        self,
        spark: SparkSession,
        layer: Layer,
        table: str,
        schema_df: DataFrame,
        *,
        partition_by: Sequence[str] | None = None,
        table_properties: dict[str, str] | None = None,
    ) -> None:
        """Create an empty table with ``schema_df``'s schema if it does not exist yet."""
        if self.exists(spark, layer, table):
            return
        self.write(
            schema_df.limit(0),
            layer,
            table,
            mode="append",
            partition_by=partition_by,
            table_properties=table_properties,
        )

    def merge(
        self,
        source: DataFrame,
        layer: Layer,
        table: str,
        *,
        on: Sequence[str],
        update_condition: str | None = None,
        update: bool = True,
        delete_not_matched_by_source: bool = False,
        run_id: str | None = None,
        table_properties: dict[str, str] | None = None,
    ) -> None:
        """Upsert ``source`` into a table keyed on ``on`` with the Delta merge builder.

        Creates the table from ``source`` if it does not exist. Rows match on equality of the
        ``on`` columns; matched rows are updated (all columns) when ``update_condition`` (SQL
        over ``t.`` and ``s.``) holds; unmatched rows are inserted; with
        ``delete_not_matched_by_source`` target rows absent from ``source`` are deleted, which
        makes the merge a minimal-change full replace (unchanged rows are not rewritten in the
        Change Data Feed).
        """
        spark = source.sparkSession
        if not self.exists(spark, layer, table):
            self.write(
                source,
                layer,
                table,
                mode="append",
                run_id=run_id,
                table_properties=table_properties,
            )
            return
        cond = " AND ".join(f"t.`{c}` <=> s.`{c}`" for c in on)
        if run_id:
            spark.conf.set("spark.databricks.delta.commitInfo.userMetadata", run_id)
        try:
            builder = (
                self.delta_table(spark, layer, table).alias("t").merge(source.alias("s"), cond)
            )
            if update:
                builder = builder.whenMatchedUpdateAll(condition=update_condition)
            builder = builder.whenNotMatchedInsertAll()
            if delete_not_matched_by_source:
                builder = builder.whenNotMatchedBySourceDelete()
            builder.execute()
        finally:
            if run_id:
                spark.conf.unset("spark.databricks.delta.commitInfo.userMetadata")

    def history_of_run(self, spark: SparkSession, layer: Layer, table: str, run_id: str) -> bool:
        """Whether a commit of ``run_id`` is in the table's history."""
        if not self.exists(spark, layer, table):
            return False
        hist = self.delta_table(spark, layer, table).history()
        return hist.filter(hist.userMetadata == run_id).limit(1).count() > 0


def lakehouse_lock_path(cfg: LakehouseConfig) -> str:
    """Path of the lock file that serialises pipeline runs on a local lakehouse."""
    return os.path.join(cfg.root, "_run.lock")
