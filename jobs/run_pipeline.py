"""spark-submit entrypoint of the whole pipeline (or ``--stages a,b``).

Locally::

    spark-submit $(unify spark-submit-args) jobs/run_pipeline.py --conf conf/demo.yml

The library must be importable by the driver and executors (``pip install .`` on every
node, or ``--py-files`` with a wheel/zip of ``unification``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from unification.entrypoint import stage_main


def main(argv: Sequence[str] | None = None) -> int:
    """Run every stage in order (or those given with --stages)."""
    return stage_main(None, __doc__ or "pipeline", argv)


if __name__ == "__main__":
    sys.exit(main())
