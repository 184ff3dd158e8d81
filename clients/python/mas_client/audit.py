"""The audit log: record an action, mark how it ended, read it back (``/v1/audit/actions``)."""

from __future__ import annotations

import threading
from enum import Enum
from typing import Any, Dict, Mapping, Optional, Union

from ._http import GatewayClient
from .approvals import Receipt, wait_for_approval


class ActionCategory(str, Enum):
    """The gateway's categories; which ones wait for a human is server-side policy."""

    READ = "read"
    INTERNAL_WRITE = "internal_write"
    EXTERNAL_WRITE = "external_write"
    FINANCIAL = "financial"
    DESTRUCTIVE = "destructive"
    SECURITY = "security"


class ActionStatus(str, Enum):
    RECORDED = "recorded"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ActionId(str):
    """What ``log_action`` returns: the action id (a string, as before) that also knows whether
    the gateway gated it (``status``, ``approval_id``) and, once approved, its ``receipt``."""

    status: ActionStatus
    approval_id: Optional[str]
    expires_at: Optional[str]
    receipt: Optional[Receipt]

    def __new__(cls, value: str, status: str, approval: Optional[Mapping[str, Any]] = None) -> "ActionId":
        obj = super().__new__(cls, value)
        obj.status = ActionStatus(status)
        obj.approval_id = str(approval["id"]) if approval else None
        obj.expires_at = approval.get("expires_at") if approval else None
        obj.receipt = None
        return obj

    @property
    def needs_approval(self) -> bool:
        return self.status == ActionStatus.PENDING_APPROVAL


def _value(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


class AuditLogger:
    def __init__(self, client: Optional[GatewayClient] = None, **kwargs: Any) -> None:
        self.client = client or GatewayClient(**kwargs)
        # Receipts this logger waited for, so update_action can complete a gated action by id.
        self._receipts: Dict[str, str] = {}

    async def log_action(
        self,
        agent_id: str,
        agent_name: str,
        action_type: str,
        category: Union[ActionCategory, str],
        inputs: Optional[Mapping[str, Any]] = None,
        tool_name: Optional[str] = None,
        correlation_id: Optional[str] = None,
        *,
        justification: Optional[str] = None,
    ) -> ActionId:
        """Records an action before it is taken. ``agent_id`` must be the key's own agent (or one
        bound to it). If policy gates it, the result's ``needs_approval`` is true: wait with
        ``wait_for_approval(action_id)`` before acting. Not retried: each call is a new action."""
        body: Dict[str, Any] = {
            "agent_id": agent_id,
            "agent_name": agent_name,
            "action_type": action_type,
            "category": _value(category),
            "inputs": dict(inputs or {}),
        }
        if tool_name is not None:
            body["tool_name"] = tool_name
        if correlation_id is not None:
            body["correlation_id"] = correlation_id
        if justification is not None:
            body["justification"] = justification
        res = (await self.client.request("POST", "/v1/audit/actions", json_body=body)).json()
        return ActionId(res["action_id"], res["status"], res.get("approval"))

    async def update_action(
        self,
        action_id: str,
        status: Union[ActionStatus, str],
        outputs: Any = None,
        error: Optional[str] = None,
        receipt: Optional[str] = None,
    ) -> dict:
        """Marks how the action ended (completed, failed, cancelled). A gated action completes
        only with its approval's receipt: taken from ``action_id.receipt`` or from an earlier
        ``wait_for_approval`` through this logger when not given."""
        receipt = receipt or getattr(action_id, "receipt", None) or self._receipts.get(str(action_id))
        body: Dict[str, Any] = {"status": _value(status)}
        if outputs is not None:
            body["outputs"] = outputs
        if error is not None:
            body["error"] = str(error)
        if receipt:
            body["receipt"] = str(receipt)
        res = await self.client.request("PATCH", f"/v1/audit/actions/{action_id}", json_body=body)
        self._receipts.pop(str(action_id), None)
        return res.json()

    async def get_action(self, action_id: str) -> dict:
        """The action with its status and its ledger entries."""
        return (await self.client.request("GET", f"/v1/audit/actions/{action_id}")).json()

    async def list_actions(self, **filters: Any) -> dict:
        """``agent_id``, ``correlation_id``, ``status``, ``category``, ``since``, ``until``,
        ``limit``, ``cursor``: newest first, ``{"data": [...], "next_cursor": ...}``."""
        return (await self.client.request("GET", "/v1/audit/actions", params=filters)).json()

    async def wait_for_approval(self, action: Any, *, timeout: Optional[float] = None) -> Optional[Receipt]:
        receipt = await wait_for_approval(action, timeout=timeout, client=self.client)
        if receipt is not None:
            self._receipts[str(receipt.approval.get("action_id") or action)] = receipt
        return receipt


_default_logger: Optional[AuditLogger] = None
_default_lock = threading.Lock()


def get_audit_logger(**kwargs: Any) -> AuditLogger:
    """The process-wide logger (MAS_BASE_URL / MAS_API_KEY); with arguments, a new one."""
    global _default_logger
    if kwargs:
        return AuditLogger(**kwargs)
    with _default_lock:
        if _default_logger is None:
            _default_logger = AuditLogger()
        return _default_logger
