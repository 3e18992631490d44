"""One error hierarchy for the whole service.

Every error carries a stable machine-readable ``code`` and the HTTP status the API answers with; the API turns
them into ``application/problem+json`` in one middleware and the CLI into one line on stderr. Messages never
contain personal data (hetu, names, addresses), secrets or raw SOAP: they are safe to log.
"""

from __future__ import annotations

from typing import Any, ClassVar


class XRoadVtjError(Exception):
    """Base of every error the service raises on purpose."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
        super().__init__(self.detail)

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 problem document for this error."""
        body: dict[str, Any] = {
            "type": f"urn:xroad-vtj:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


# --- configuration -------------------------------------------------------------------------------------------


class ConfigError(XRoadVtjError):
    code = "invalid_config"
    title = "Invalid configuration"


# --- caller input --------------------------------------------------------------------------------------------


class InvalidRequest(XRoadVtjError):
    code = "invalid_request"
    status = 400
    title = "Invalid request"


class InvalidHetu(InvalidRequest):
    code = "invalid_hetu"
    title = "Invalid henkilötunnus"


class InvalidSatu(InvalidRequest):
    code = "invalid_satu"
    title = "Invalid electronic service identifier (SATU)"


class InvalidBuildingId(InvalidRequest):
    code = "invalid_building_id"
    title = "Invalid permanent building identifier"


class InvalidPropertyId(InvalidRequest):
    code = "invalid_property_id"
    title = "Invalid property identifier"


class InvalidCriteria(InvalidRequest):
    code = "invalid_criteria"
    title = "Invalid search criteria"


class InvalidPurpose(InvalidRequest):
    code = "invalid_purpose"
    title = "Purpose does not match the caller's policy"


class Unauthenticated(XRoadVtjError):
    code = "unauthenticated"
    status = 401
    title = "Authentication required"


class Forbidden(XRoadVtjError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class ProductNotAllowed(Forbidden):
    code = "product_not_allowed"
    title = "Product not allowed for this caller"


class NonUniqueSearchNotAllowed(Forbidden):
    code = "non_unique_search_not_allowed"
    title = "This caller may not search by non-unique criteria"


class QuotaExceeded(XRoadVtjError):
    code = "quota_exceeded"
    status = 429
    title = "Quota exceeded"


class NotFound(XRoadVtjError):
    code = "not_found"
    status = 404
    title = "Not found"


# --- service state -------------------------------------------------------------------------------------------


class AuditUnavailable(XRoadVtjError):
    code = "audit_unavailable"
    status = 503
    title = "Audit store unavailable"


class Overloaded(XRoadVtjError):
    code = "overloaded"
    status = 503
    title = "Too many queries in flight"


class ShuttingDown(XRoadVtjError):
    code = "shutting_down"
    status = 503
    title = "The service is shutting down"


# --- protocol: X-Road and VTJ --------------------------------------------------------------------------------


class ProtocolError(XRoadVtjError):
    """Something about a message is wrong; raised by the sans-I/O core."""


class InvalidIdentifier(ProtocolError):
    code = "invalid_identifier"
    status = 400
    title = "Invalid X-Road identifier"


class UpstreamError(ProtocolError):
    """The security server or VTJ answered, but not with a usable answer."""

    status = 502


class InvalidUpstreamResponse(UpstreamError):
    code = "invalid_upstream_response"
    title = "The upstream response is not a valid SOAP answer"


class UpstreamFault(UpstreamError):
    code = "upstream_fault"
    title = "X-Road SOAP fault"


class RequestHashMismatch(UpstreamError):
    code = "request_hash_mismatch"
    title = "requestHash does not match the request that was sent"


class InconsistentResponse(UpstreamError):
    code = "inconsistent_response"
    title = "The response does not echo the request headers"


class UpstreamRejected(UpstreamError):
    code = "upstream_rejected"
    title = "VTJ refused the query"


class UpstreamTimeout(XRoadVtjError):
    code = "upstream_timeout"
    status = 504
    title = "The security server did not answer in time"


class UpstreamUnavailable(XRoadVtjError):
    """The request provably never reached the security server (connection refused, DNS, TLS handshake)."""

    code = "upstream_unavailable"
    status = 502
    title = "The security server could not be reached; nothing was sent"


class OutcomeUnknown(XRoadVtjError):
    """The connection broke after the request may have reached the security server."""

    code = "outcome_unknown"
    status = 502
    title = "The connection failed after sending; the query may have been served"


# --- caller input: body size (policy) --------------------------------------------------------------------------


class RequestTooLarge(InvalidRequest):
    """The request body is over ``server.max_body_bytes``."""

    code = "request_too_large"
    status = 413
    title = "Request body too large"
