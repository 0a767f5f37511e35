"""PII hygiene for logs and run reports: counts, never names, emails or phone numbers.

The library logs counts and identifiers of runs, tables and files by design. As a second line
of defence, :class:`RedactingFilter` rewrites any log record that still contains something
shaped like an email address or a phone number (``<email>``, ``<phone>``), and
:func:`find_pii` lets tests and the run report check a text or a metrics dict.

Names cannot be recognised by shape; they are kept out by never logging row values.

Examples:
    ```py
    install_log_redaction()          # on the root logger's handlers (CLI and jobs do it)
    redact("mail jean@example.com")  # 'mail <email>'
    ```
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
#: International numbers (``+33 6 12 34 56 78``, ``0033612345678``) and national numbers
#: written with a leading 0 and 9 more digits (``06 12 34 56 78``, ``0612345678``). Dates,
#: times and run ids do not have these shapes.
PHONE_PATTERN = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9](?:[ .\-]?\d){7,14}(?!\d)"
    r"|(?<![\w-])0[1-9](?:[ .\-]?\d{2}){4}(?![\w-])"
)


def redact(text: str) -> str:
    """Replace email addresses and phone numbers in ``text``."""
    return PHONE_PATTERN.sub("<phone>", EMAIL_PATTERN.sub("<email>", text))


def find_pii(value: Any) -> list[str]:
    """Email- or phone-shaped strings found in ``value`` (a string or any JSON-able object)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return EMAIL_PATTERN.findall(text) + [m.group(0) for m in PHONE_PATTERN.finditer(text)]


class RedactingFilter(logging.Filter):
    """A logging filter that redacts emails and phone numbers from every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a broken format string is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (default: the root).

    Filters on a handler see every record the handler emits, including those propagated from
    child loggers (a filter on a logger would only see that logger's own records).
    """
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
