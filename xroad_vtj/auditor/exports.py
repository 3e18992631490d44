"""The report's downloads: CSV for a spreadsheet, and a signed XML document for the record.

The XML is a ``SubjectReport`` (``schemas/audit-evidence.xsd``): the same ``Query`` elements, records and
embedded checkpoint as ``audit export``, built and signed by :mod:`xroad_vtj.audit.evidence` and the store's
signer, but holding only the queries about one subject. Before signing, the chain from the first included
record up to a signed checkpoint is recomputed (as ``export`` does), so a log that does not verify yields no
document. ``xmlsec1 --verify --pubkey-cert-pem signing.crt FILE.xml`` checks it."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from xroad_vtj.audit import evidence
from xroad_vtj.audit.chain import iso, utcnow
from xroad_vtj.audit.store import AuditStore
from xroad_vtj.audit.verify import Row
from xroad_vtj.auditor.present import local

CSV_COLUMNS = (
    "requested_at",
    "completed_at",
    "caller",
    "end_user",
    "purpose",
    "product",
    "operation",
    "route",
    "subject_kind",
    "subject",
    "kind",
    "outcome",
    "reason",
    "return_code",
    "error_code",
    "fault_code",
    "fault_detail",
    "latency_seconds",
    "data_categories",
    "xroad_message_id",
    "audit_id",
)
# A cell starting with one of these is a formula to a spreadsheet: end users and purposes come from callers.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any, key: str) -> str:
    if value is None:
        return ""
    if key in ("requested_at", "completed_at"):
        return local(value)
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def report_csv(results: Sequence[dict[str, Any]]) -> bytes:
    """UTF-8 with a BOM (so that Excel reads the Finnish letters), one row per query or refusal."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        writer.writerow([_cell(r.get(k), k) for k in CSV_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode()


async def subject_report_xml(
    store: AuditStore, results: Sequence[dict[str, Any]], since: datetime, until: datetime
) -> bytes:
    """The signed ``SubjectReport`` of ``results`` (a subject search over ``[since, until)``)."""
    root = evidence._root("SubjectReport", store.instance, utcnow())
    evidence._el(root, "From", iso(since))
    evidence._el(root, "To", iso(until))
    queries = evidence._el(root, "Queries", count=str(len(results)))
    if results:
        rows = await store._rows_for_audit_ids([r["audit_id"] for r in results])
        by_id: dict[str, list[Row]] = {}
        for row in rows:
            by_id.setdefault(evidence._audit_id_of(row), []).append(row)
        first, last = rows[0][0], rows[-1][0]
        cp, cp_document = await evidence._covering_checkpoint(store, last)
        segment, start_hash = await evidence._segment(store, first, cp)
        prev = evidence._previous_hashes(segment, first - 1, start_hash)
        for result in results:
            evidence._query(queries, result, by_id[result["audit_id"]], prev)
        evidence._checkpoint_el(root, cp, cp_document)
    return store.signer.sign(root)
