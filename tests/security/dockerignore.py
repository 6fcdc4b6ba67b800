"""Docker's .dockerignore rules in Python, as moby's patternmatcher applies them, for checking
the build context without a Docker daemon.

Lines are cleaned paths (a leading ``/`` and trailing ``/`` dropped); ``*`` and ``?`` stay within
one path segment, ``**`` spans any number of segments; ``!`` re-includes; the last pattern that
matches a path, or one of its parent folders, decides.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    exclusion: bool


def parse(text: str) -> list[Pattern]:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        line = posixpath.normpath(line).lstrip("/")
        patterns.append(Pattern(re.compile(_regex(line)), exclusion))
    return patterns


def _regex(pattern: str) -> str:
    out, i = "^", 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1  # "**/" is "**"
            out += ".*" if i == len(pattern) else "(.*/)?"
            continue
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif ch == "[":
            end = pattern.find("]", i + 1)
            out += pattern[i : end + 1] if end > 0 else re.escape(ch)
            i = end if end > 0 else i
        else:
            out += re.escape(ch)
        i += 1
    return out + "$"


def excluded(path: str, patterns: list[Pattern]) -> bool:
    """Whether Docker leaves ``path`` (relative, with /) out of the build context."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    matched = False
    for p in patterns:
        if p.exclusion != matched:
            continue
        if any(p.regex.match(c) for c in candidates):
            matched = not p.exclusion
    return matched


def context(root: Path, patterns: list[Pattern]) -> list[str]:
    """Every file Docker would send from ``root``. An excluded folder is not entered unless a
    ``!`` pattern could re-include something inside it."""
    reincluding = [p for p in patterns if p.exclusion]
    sent = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder).relative_to(root).as_posix()
        prefix = "" if here == "." else here + "/"
        if not reincluding:
            dirs[:] = [d for d in dirs if not excluded(prefix + d, patterns)]
        sent += [prefix + f for f in files if not excluded(prefix + f, patterns)]
    return sorted(sent)
