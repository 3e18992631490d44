"""Caller text made fit for an audit record before it is queued.

A refusal is audited with whatever the caller sent, and JSON lets a caller send text no store can write: a lone
surrogate (``"\\ud800"``) cannot be encoded as UTF-8, and PostgreSQL text cannot hold NUL. Such characters are
replaced by U+FFFD, so the record is written, and recognisably altered, instead of failing (and, sharing a group
commit, failing other callers' records with it).
"""

from __future__ import annotations

import re

__all__ = ["REPLACEMENT", "recordable_text"]

REPLACEMENT = "\ufffd"
_UNWRITABLE = re.compile("[\x00\ud800-\udfff]")


def recordable_text(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, with every lone surrogate and NUL replaced by U+FFFD."""
    return _UNWRITABLE.sub(REPLACEMENT, value[:limit])
