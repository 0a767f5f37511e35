"""spark-submit entrypoint of the ``report`` stage.

Locally::

    spark-submit $(unify spark-submit-args) jobs/report.py --conf conf/demo.yml

The library must be importable by the driver and executors (``pip install .`` on every
node, or ``--py-files`` with a wheel/zip of ``unification``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from unification.entrypoint import stage_main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the report stage."""
    return stage_main(["report"], __doc__ or "report", argv)


if __name__ == "__main__":
    sys.exit(main())
