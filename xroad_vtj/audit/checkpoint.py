"""Signed checkpoints: "the log had ``seq`` records and its head hash was ``head_hash`` at ``created_at``".

A checkpoint is a small XML document (schema ``schemas/audit-evidence.xsd``, element ``Checkpoint``) signed
with XML-DSig. It is stored in the database and written as a file to ``audit.checkpoint_dir``, which
operators ship to write-once storage: a database rolled back or cut short no longer contains what the newest
file covers, and a database whose records were rewritten (hashes and all) no longer matches the head hashes
the files hold.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree

from xroad_vtj.audit.chain import iso, parse_iso
from xroad_vtj.audit.xmldsig import SignatureInvalid, Signer, Verifier

NS = "urn:xroad-vtj:audit:1"
ORIGIN = "xroad-vtj audit log"
_Q = f"{{{NS}}}"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    head_hash: bytes
    created_at: datetime
    instance: str
    source: str  # where it was read from: a file name or "database"


def build(seq: int, head_hash: bytes, created_at: datetime, instance: str) -> etree._Element:
    root = etree.Element(_Q + "Checkpoint", nsmap={None: NS})  # type: ignore[dict-item]  # lxml-stubs: default namespace key
    etree.SubElement(root, _Q + "Origin").text = ORIGIN
    etree.SubElement(root, _Q + "Seq").text = str(seq)
    etree.SubElement(root, _Q + "HeadHash", algorithm="sha256").text = head_hash.hex()
    etree.SubElement(root, _Q + "CreatedAt").text = iso(created_at)
    etree.SubElement(root, _Q + "Instance").text = instance
    return root


def sign(signer: Signer, seq: int, head_hash: bytes, created_at: datetime, instance: str) -> bytes:
    return signer.sign(build(seq, head_hash, created_at, instance))


def read(verifier: Verifier, document: bytes, source: str) -> Checkpoint:
    """Verify and parse a checkpoint document; raises :class:`SignatureInvalid` naming ``source``."""
    try:
        root = verifier.verify(document)
    except SignatureInvalid as e:
        raise SignatureInvalid(f"checkpoint {source}: {e}") from None
    try:
        if root.tag != _Q + "Checkpoint" or root.findtext(_Q + "Origin") != ORIGIN:
            raise ValueError
        return Checkpoint(
            seq=int(root.findtext(_Q + "Seq") or ""),
            head_hash=bytes.fromhex(root.findtext(_Q + "HeadHash") or ""),
            created_at=parse_iso(root.findtext(_Q + "CreatedAt") or ""),
            instance=root.findtext(_Q + "Instance") or "",
            source=source,
        )
    except ValueError:
        raise SignatureInvalid(f"checkpoint {source}: not a checkpoint document") from None


def file_name(seq: int, created_at: datetime, instance: str) -> str:
    stamp = iso(created_at).replace("-", "").replace(":", "").replace(".", "")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", instance)[:64]
    return f"checkpoint-{seq:012d}-{stamp}-{safe}.xml"


def write_file(directory: Path, name: str, document: bytes) -> Path:
    """Write atomically and durably (temp file, fsync, rename, fsync of the directory)."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / name
    tmp = directory / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(document)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


def exported(directory: Path | None) -> list[tuple[str, bytes]]:
    """Every checkpoint file in ``directory`` as ``(name, bytes)``."""
    if directory is None or not directory.is_dir():
        return []
    return [(p.name, p.read_bytes()) for p in sorted(directory.glob("checkpoint-*.xml"))]
