"""Data keys: AES-GCM encryption of the subject (hetu) and the HMAC blind index that makes it searchable.

A data key file holds one line: 32 random bytes in base64. Two sub-keys are derived from it with HMAC-SHA256
(one for AES-256-GCM, one for the blind index) so that the index never reveals anything about the encryption
key. Each key has an id (``k`` + 16 hex digits of a hash of the key) stored with every encrypted subject, so
that after rotation (new key in ``data_key_file``, the old one moved to ``previous_data_key_files``) old
records stay readable and new ones use the new key. A subject search computes the blind index under every
known key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from xroad_vtj.errors import AuditUnavailable, ConfigError

_ENC_LABEL = b"xroad-vtj audit subject encryption v1"
_IDX_LABEL = b"xroad-vtj audit subject blind index v1"
_KID_LABEL = b"xroad-vtj audit key id v1"
_MAC_LABEL = b"xroad-vtj audit record mac v1"


class RandomPool:
    """Bytes from ``os.urandom`` drawn 4 KiB at a time.

    Every ``os.urandom`` call is a system call that releases the GIL; on the event loop, with the audit writer
    thread busy, getting the GIL back can take milliseconds. Drawing in bulk makes that once per ~150 appends.
    """

    def __init__(self, chunk: int = 4096) -> None:
        self._chunk = chunk
        self._buf = b""
        self._lock = threading.Lock()

    def take(self, n: int) -> bytes:
        with self._lock:
            if len(self._buf) < n:
                self._buf = os.urandom(self._chunk)
            out, self._buf = self._buf[:n], self._buf[n:]
            return out


RANDOM = RandomPool()


def normalise_subject(subject: str) -> str:
    """The form a subject is indexed under: hetus are written in upper case without surrounding blanks."""
    return subject.strip().upper()


@dataclass(frozen=True, slots=True)
class DataKey:
    kid: str
    _aead: AESGCM = field(repr=False)
    _index: hmac.HMAC = field(repr=False)
    mac_key: bytes = field(default=b"", repr=False)  # authenticates record bodies (xroad_vtj.audit.mac)

    @classmethod
    def from_bytes(cls, key: bytes) -> DataKey:
        if len(key) != 32:
            raise ValueError("a data key is 32 bytes")
        kid = "k" + hashlib.sha256(_KID_LABEL + key).hexdigest()[:16]
        enc = hmac.new(key, _ENC_LABEL, hashlib.sha256).digest()
        idx = hmac.new(key, _IDX_LABEL, hashlib.sha256).digest()
        mac = hmac.new(key, _MAC_LABEL, hashlib.sha256).digest()
        return cls(kid, AESGCM(enc), hmac.new(idx, digestmod=hashlib.sha256), mac)

    def blind_index(self, subject: str) -> str:
        mac = self._index.copy()  # the keyed state is prepared once per key
        mac.update(normalise_subject(subject).encode())
        return mac.hexdigest()[:32]

    def encrypt(self, subject: str, context: str) -> str:
        """``kid:base64(nonce || ciphertext+tag)``; ``context`` (the audit id) is bound as associated data."""
        nonce = RANDOM.take(12)
        ct = self._aead.encrypt(nonce, subject.encode(), context.encode())
        return f"{self.kid}:{base64.b64encode(nonce + ct).decode()}"

    def decrypt(self, blob: bytes, context: str) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], context.encode()).decode()


class Keyring:
    """The current data key (used for new records) and the previous ones (still readable)."""

    def __init__(self, current: DataKey, previous: tuple[DataKey, ...] = ()) -> None:
        self.current = current
        self.all = (current, *previous)
        self._by_kid = {k.kid: k for k in self.all}

    def encrypt(self, subject: str, context: str) -> tuple[str, str]:
        """The encrypted subject and its blind index under the current key."""
        return self.current.encrypt(subject, context), self.current.blind_index(subject)

    def blind_indexes(self, subject: str) -> list[str]:
        return [k.blind_index(subject) for k in self.all]

    def decrypt(self, sealed: str, context: str) -> str:
        kid, _, b64 = sealed.partition(":")
        key = self._by_kid.get(kid)
        if key is None:
            raise AuditUnavailable(f"audit data key {kid} is not configured")
        try:
            return key.decrypt(base64.b64decode(b64), context)
        except (InvalidTag, binascii.Error, ValueError):
            raise AuditUnavailable("an encrypted audit subject does not decrypt (record altered?)") from None


def read_key_file(path: Path, key_name: str) -> DataKey:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"{key_name} cannot be read ({getattr(e, 'strerror', None) or 'not ASCII'})"
        ) from None
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ConfigError(f"{key_name} is not base64") from None
    if len(raw) != 32:
        raise ConfigError(f"{key_name} must hold 32 bytes in base64")
    return DataKey.from_bytes(raw)


def new_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode() + "\n"


def write_private(path: Path, data: bytes) -> None:
    """Create a file readable by its owner only; never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
