"""spark-submit entrypoint of ``unify vacuum`` (purge old Delta versions, expired exports).

Locally::

    spark-submit $(unify spark-submit-args) jobs/vacuum.py --conf conf/demo.yml
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from unification.privacy.entrypoint import base_parser, job_main


def _vacuum(spark: Any, cfg: Any, run_id: str, args: argparse.Namespace) -> dict[str, Any]:
    from unification.privacy.vacuum import run_vacuum

    return run_vacuum(
        spark,
        cfg,
        run_id,
        retain_hours=args.retain_hours,
        force=args.force,
        set_retention=args.set_retention,
        exports=not args.no_exports,
        layers=args.layer or None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """VACUUM every table of the lakehouse."""
    parser = base_parser(__doc__ or "vacuum")
    parser.add_argument("--retain-hours", type=float, default=None)
    parser.add_argument("--force", action="store_true", help="allow less than 168 hours")
    parser.add_argument("--set-retention", action="store_true", help="set table retention")
    parser.add_argument("--no-exports", action="store_true", help="keep expired export files")
    parser.add_argument("--layer", action="append", default=[], help="only this layer")
    return job_main("vacuum", parser, _vacuum, argv, lock=True)


if __name__ == "__main__":
    sys.exit(main())
