"""spark-submit entrypoint of ``unify erase`` (GDPR erasure).

Locally::

    spark-submit $(unify spark-submit-args) jobs/erase.py --conf conf/demo.yml \
        --email someone@example.com [--request-id TICKET-123]

Identifiers on a command line end up in shell history and process lists: prefer
``--from-file`` (one ``kind,value[,request_id]`` per line) for real requests.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from unification.privacy.entrypoint import base_parser, job_main


def _erase(spark: Any, cfg: Any, run_id: str, args: argparse.Namespace) -> dict[str, Any]:
    from unification.privacy.erase import erase, read_requests, requests_from_options

    requests = requests_from_options(
        emails=args.email,
        phones=args.phone,
        customer_ids=args.customer_id,
        records=args.record,
        request_id=args.request_id,
    )
    if args.from_file:
        requests += read_requests(args.from_file)
    result = erase(
        spark, cfg, requests, run_id, scope=args.scope, dry_run=args.dry_run, force=args.force
    )
    return result.metrics()


def main(argv: Sequence[str] | None = None) -> int:
    """Erase the persons named on the command line (or in --from-file)."""
    parser = base_parser(__doc__ or "erase")
    parser.add_argument("--email", action="append", default=[])
    parser.add_argument("--phone", action="append", default=[])
    parser.add_argument("--customer-id", action="append", default=[])
    parser.add_argument("--record", action="append", default=[], help="source:entity:source_id")
    parser.add_argument("--from-file", default=None, help="CSV lines kind,value[,request_id]")
    parser.add_argument("--request-id", default=None, help="ticket id kept in ops.erasure_log")
    parser.add_argument("--scope", choices=["customer", "records"], default=None)
    parser.add_argument("--dry-run", action="store_true", help="resolve and count only")
    parser.add_argument("--force", action="store_true", help="allow a request shared by many")
    return job_main("erase", parser, _erase, argv, lock=True)


if __name__ == "__main__":
    sys.exit(main())
