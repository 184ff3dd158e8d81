"""Waiting for a human: long-polls ``GET /v1/approvals/{id}?wait=`` until the approval is decided."""

from __future__ import annotations

import time
from typing import Any, Mapping, Optional, Union

from ._http import GatewayClient
from .errors import (
    ApprovalError,
    ApprovalExpired,
    ApprovalRejected,
    ApprovalTimeout,
    BadRequestError,
    NotFoundError,
)

# The gateway holds a long-poll open at most this long.
MAX_WAIT_SECONDS = 25


class Receipt(str):
    """The approval receipt (a string: pass it to ``update_action``), with the approval it came from."""

    approval: dict

    def __new__(cls, value: str, approval: Mapping[str, Any]) -> "Receipt":
        obj = super().__new__(cls, value)
        obj.approval = dict(approval)
        return obj


def approval_id_of(action: Any) -> Optional[str]:
    """The approval id carried by what ``log_action`` returned, a gateway response, or an
    ``ApprovalPending``; None when it carries none."""
    approval_id = getattr(action, "approval_id", None)
    if approval_id:
        return str(approval_id)
    if isinstance(action, Mapping):
        nested = action.get("approval")
        if isinstance(nested, Mapping) and nested.get("id"):
            return str(nested["id"])
        if action.get("id") and action.get("action_id"):  # an approval view itself
            return str(action["id"])
    return None


async def wait_for_approval(
    action: Union[str, Mapping[str, Any], Any],
    *,
    timeout: Optional[float] = None,
    client: Optional[GatewayClient] = None,
) -> Optional[Receipt]:
    """Waits until a human decides, and returns the receipt that lets the action complete.

    ``action`` is what ``log_action`` returned, an ``ApprovalPending``, a gateway response with an
    ``approval``, or an id (an action id is looked up; anything else is taken as an approval id).
    Returns None when the action was never gated (nothing to wait for). Raises
    ``ApprovalRejected`` (with the reason), ``ApprovalExpired``, or ``ApprovalTimeout`` when
    ``timeout`` seconds pass first (without a timeout it waits until the approval expires).
    """
    gateway = client or GatewayClient()
    approval_id = approval_id_of(action)
    if approval_id is None and isinstance(action, str):
        approval_id = await _approval_of_action(gateway, action)
        if approval_id is None:
            return None
    if approval_id is None:
        return None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        wait = MAX_WAIT_SECONDS if remaining is None else max(0, min(MAX_WAIT_SECONDS, int(remaining)))
        res = await gateway.request(
            "GET",
            f"/v1/approvals/{approval_id}",
            params={"wait": wait},
            timeout=wait + 30,
        )
        view = res.json() or {}
        status = view.get("status")
        ids = dict(approval_id=approval_id, action_id=view.get("action_id"), approval=view)
        if status == "approved":
            receipt = view.get("receipt")
            if not receipt:
                raise ApprovalError(
                    "approved, but its receipt was already used (each approval completes one action)",
                    **ids,
                )
            result = Receipt(receipt, view)
            if hasattr(action, "receipt"):
                try:
                    action.receipt = result
                except AttributeError:
                    pass
            return result
        if status == "rejected":
            raise ApprovalRejected(view.get("reason"), **ids)
        if status == "expired":
            raise ApprovalExpired(f"approval expired at {view.get('expires_at')}", **ids)
        if deadline is not None and time.monotonic() >= deadline:
            raise ApprovalTimeout(
                f"still pending after {timeout} s", expires_at=view.get("expires_at"), **ids
            )


async def _approval_of_action(gateway: GatewayClient, action_id: str) -> Optional[str]:
    try:
        action = (await gateway.request("GET", f"/v1/audit/actions/{action_id}")).json() or {}
    except (NotFoundError, BadRequestError):
        return action_id  # not an action id of ours: take it as an approval id
    approval = action.get("approval")
    return str(approval["id"]) if isinstance(approval, Mapping) and approval.get("id") else None


class Approvals:
    """For approvers (and tests): list pending approvals and decide them."""

    def __init__(self, client: Optional[GatewayClient] = None, **kwargs: Any) -> None:
        self.client = client or GatewayClient(**kwargs)

    async def list(self, status: Optional[str] = "pending", limit: int = 100) -> list:
        res = await self.client.request("GET", "/v1/approvals", params={"status": status, "limit": limit})
        return (res.json() or {}).get("data", [])

    async def get(self, approval_id: str) -> dict:
        return (await self.client.request("GET", f"/v1/approvals/{approval_id}")).json()

    async def approve(self, approval_id: str, reason: Optional[str] = None) -> dict:
        return await self._decide(approval_id, "approve", reason)

    async def reject(self, approval_id: str, reason: str) -> dict:
        return await self._decide(approval_id, "reject", reason)

    async def _decide(self, approval_id: str, decision: str, reason: Optional[str]) -> dict:
        body = {"decision": decision, **({"reason": reason} if reason else {})}
        # The same decision replayed gets the same answer, so a retry is safe.
        res = await self.client.request(
            "POST", f"/v1/approvals/{approval_id}/decision", json_body=body, idempotent=True
        )
        return res.json()

    async def wait(self, action: Any, *, timeout: Optional[float] = None) -> Optional[Receipt]:
        return await wait_for_approval(action, timeout=timeout, client=self.client)
