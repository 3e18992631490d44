"""Fault texts as they may go into log lines and audit records: keyed digests instead of free text.

The digest key is derived from the audit data key (:func:`xroad_vtj.xroad.faults.fault_digest_key`), so a digest
is comparable across log lines and records of one key period but cannot be reversed, even for short texts such
as a hetu, by anyone who does not hold the audit data key. After a key rotation the same text digests
differently. When the key cannot be read, free text is withheld altogether (fail closed).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from xroad_vtj.xroad.faults import fault_digest_key, is_loggable_fault_text, loggable_fault_text

__all__ = ["WITHHELD", "FaultTexts", "read_data_key"]

WITHHELD = "withheld"


def read_data_key(path: Path | None) -> bytes | None:
    """The 32 bytes of an audit data key file (one line of base64), or None when it cannot be read."""
    if path is None:
        return None
    try:
        raw = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
    except (OSError, UnicodeDecodeError, binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


class FaultTexts:
    """Turns fault codes and details into their loggable form with a key read once, on first use (the store
    creates the embedded key file when it opens, after this object exists)."""

    def __init__(self, data_key_file: Path | None) -> None:
        self._file = data_key_file
        self._key: bytes | None = None

    def _digest_key(self) -> bytes | None:
        if self._key is None:
            data_key = read_data_key(self._file)
            if data_key is not None:
                self._key = fault_digest_key(data_key)
        return self._key

    def loggable(self, text: str | None) -> str | None:
        if text is None:
            return None
        key = self._digest_key()
        if key is None:
            # No key, no digest: only what is safe verbatim survives.
            return text if is_loggable_fault_text(text) else WITHHELD
        return loggable_fault_text(text, key)
