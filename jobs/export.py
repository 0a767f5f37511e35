"""spark-submit entrypoint of ``unify export`` (consent-aware activation export).

Locally::

    spark-submit $(unify spark-submit-args) jobs/export.py --conf conf/demo.yml \
        --segment vip --channel email
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from unification.privacy.entrypoint import base_parser, job_main


def _export(spark: Any, cfg: Any, run_id: str, args: argparse.Namespace) -> dict[str, Any]:
    from unification.privacy.export import run_export

    return run_export(
        spark,
        cfg,
        args.segment,
        args.channel,
        run_id,
        hashed=args.hashed,
        fmt=args.format,
        out_dir=args.out,
        as_of=date.fromisoformat(args.as_of) if args.as_of else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Export a segment for a channel."""
    parser = base_parser(__doc__ or "export")
    parser.add_argument("--segment", required=True)
    parser.add_argument("--channel", required=True, choices=["email", "sms", "post", "ads"])
    parser.add_argument("--format", choices=["csv", "parquet"], default=None)
    parser.add_argument("--hashed", action="store_true", default=None, help="SHA-256 ids")
    parser.add_argument("--out", default=None, help="output folder")
    parser.add_argument("--as-of", default=None, help="feature snapshot YYYY-MM-DD")
    return job_main("export", parser, _export, argv)


if __name__ == "__main__":
    sys.exit(main())
