"""Typed settings of the ``ingest`` stage (section ``ingest:`` of the run config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class IngestSettings(BaseModel):
    """Settings of the ingest stage. Defaults live here; YAML overrides them.

    Attributes:
        fail_on_rejected_file: raise :class:`~unification.errors.ContractError` at the end of
            the run when a file was rejected as a whole in this run (after finishing the others).
        verify_row_count: count the records of every new file independently of Spark's parser
            (Python ``csv`` for CSV, non-blank lines for JSON lines, Parquet metadata) and check
            the encoding strictly. Turn off only for very large files where the single-threaded
            driver pass is too slow; rows read then means rows Spark parsed.
        reject_empty_files: reject 0-byte files instead of recording them as empty batches.
        retry_rejected: re-examine files whose batch was rejected by an earlier run (e.g. after a
            contract fix). By default a known rejected batch is skipped with a warning.
        decimal_precision: precision of ``decimal`` contract columns.
        decimal_scale: scale of ``decimal`` contract columns.
    """

    model_config = ConfigDict(extra="forbid")

    fail_on_rejected_file: bool = True
    verify_row_count: bool = True
    reject_empty_files: bool = False
    retry_rejected: bool = False
    decimal_precision: int = Field(default=38, ge=1, le=38)
    decimal_scale: int = Field(default=10, ge=0, le=38)

    @model_validator(mode="after")
    def _scale_fits(self) -> IngestSettings:
        if self.decimal_scale > self.decimal_precision:
            raise ValueError("decimal_scale must not exceed decimal_precision")
        return self
