"""Customer data unification (single customer view) on Spark, Delta Lake and Splink.

Importing this package never creates a SparkSession: library functions take
``spark: SparkSession`` (or a DataFrame) as an argument.
"""

from __future__ import annotations

__version__ = "0.1.0"
