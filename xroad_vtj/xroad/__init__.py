"""The X-Road message protocol for SOAP 4.0, sans-I/O: identifiers, envelopes, parsing and verification.

Bytes in, values out; nothing here opens a socket, reads configuration or logs.
"""

from xroad_vtj.xroad.envelope import (
    PROTOCOL_VERSION,
    Headers,
    build_fault,
    build_request,
    build_response,
    new_message_id,
)
from xroad_vtj.xroad.faults import (
    FaultFamily,
    classify_fault,
    fault_digest,
    fault_digest_key,
    fault_name,
    is_loggable_fault_code,
    loggable_fault_text,
)
from xroad_vtj.xroad.identifiers import ClientId, ServiceId
from xroad_vtj.xroad.message import (
    DEFAULT_MAX_BYTES,
    Fault,
    Message,
    parse_message,
    parse_service_id,
    request_hash,
    verify_response,
)
from xroad_vtj.xroad.metaservices import (
    METASERVICE_CODES,
    build_metaservice_request,
    build_service_list_response,
    parse_service_list,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "METASERVICE_CODES",
    "PROTOCOL_VERSION",
    "ClientId",
    "Fault",
    "FaultFamily",
    "Headers",
    "Message",
    "ServiceId",
    "build_fault",
    "build_metaservice_request",
    "build_request",
    "build_response",
    "build_service_list_response",
    "classify_fault",
    "fault_digest",
    "fault_digest_key",
    "fault_name",
    "is_loggable_fault_code",
    "loggable_fault_text",
    "new_message_id",
    "parse_message",
    "parse_service_id",
    "parse_service_list",
    "request_hash",
    "verify_response",
]
