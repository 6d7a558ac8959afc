"""One record per call, whatever carried it: the dispatcher's last step.

`LogAuditor` writes each record to the `labelgate.audit` logger (one JSON line with the
gateway's structured logging), so an operator can route, keep or silence the audit trail
apart from the rest of the log. Another auditor (a database table, a SIEM) implements the
same one method.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Protocol

AUDIT_LOGGER = "labelgate.audit"


@dataclass(frozen=True)
class AuditRecord:
    request_id: str
    operation: str
    transport: str  # "grpc" | "aws-json"
    principal: str
    backend: str  # "none" when the call failed before routing
    code: str  # "OK" or the gRPC status name of the error
    error: str  # the AWS error name, "" on success
    seconds: float


class Auditor(Protocol):
    def record(self, record: AuditRecord) -> None: ...


class LogAuditor:
    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger(AUDIT_LOGGER)

    def record(self, record: AuditRecord) -> None:
        if self.log.isEnabledFor(logging.INFO):
            self.log.info("%s %s by %s: %s", record.operation, record.transport,
                          record.principal, record.code, extra={"audit": asdict(record)})


__all__ = ["AUDIT_LOGGER", "AuditRecord", "Auditor", "LogAuditor"]
