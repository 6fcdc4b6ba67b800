"""Making text from outside (exchange answers, URLs) safe to put in a log line.

Exchange error bodies and names are attacker-controlled when the exchange, a proxy or the network
is: a newline would forge log lines, a megabyte body would flood the log. URLs of private
endpoints carry secrets in their query (a listen key, a signature): logs show only the path.
"""

from __future__ import annotations

import re

_URL_QUERY = re.compile(r"((?:https?|wss?)://[^\s?#'\"]*)[?#][^\s'\"]*", re.IGNORECASE)


def printable(text: str, limit: int = 200) -> str:
    """Control and non-ASCII characters escaped (\\n, \\x1b, ...), cut to ``limit`` characters."""
    escaped = text[:limit].encode("unicode_escape").decode("ascii")
    return escaped[:limit] + "…" if len(escaped) > limit or len(text) > limit else escaped


def without_query(text: str) -> str:
    """``text`` with the query string and fragment of every URL in it replaced by ``?…``."""
    return _URL_QUERY.sub(r"\1?…", text)
