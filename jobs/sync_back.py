"""spark-submit entrypoint of ``unify sync-back`` (corrections per source system).

Locally::

    spark-submit $(unify spark-submit-args) jobs/sync_back.py --conf conf/demo.yml
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from unification.privacy.entrypoint import base_parser, job_main


def _sync_back(spark: Any, cfg: Any, run_id: str, args: argparse.Namespace) -> dict[str, Any]:
    from unification.privacy.syncback import run_sync_back

    return run_sync_back(
        spark, cfg, run_id, sources=args.source or None, fmt=args.format, out_dir=args.out
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Write this run's sync-back file of each source system."""
    parser = base_parser(__doc__ or "sync-back")
    parser.add_argument("--source", action="append", default=[], help="only these sources")
    parser.add_argument("--format", choices=["csv", "parquet"], default=None)
    parser.add_argument("--out", default=None, help="output folder")
    return job_main("sync_back", parser, _sync_back, argv, lock=True)


if __name__ == "__main__":
    sys.exit(main())
