"""MINDEX, NatureOS and Website through the gateway's ``/v1/integrations/{name}/...``: the gateway
injects their credentials, audits writes, and holds risky writes for a human.

A gated write answers 202 ``pending_approval``. By default that raises ``ApprovalPending``
(carrying the approval id); ``await client.resume(pending)`` later waits for the decision and
sends the same request again with the receipt. ``wait_for_approval=True`` does both at once.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional
from urllib.parse import quote

from ._http import GatewayClient
from .approvals import wait_for_approval as _wait
from .errors import ApprovalPending, BadRequestError


def _segment(value: Any) -> str:
    return quote(str(value), safe="")


class IntegrationClient:
    """One integration; an async context manager (``async with MINDEXClient() as client``)."""

    name: str = ""

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        agent_id: Optional[str] = None,
        agent_name: Optional[str] = None,
        wait_for_approval: bool = False,
        approval_timeout: Optional[float] = None,
        client: Optional[GatewayClient] = None,
        **kwargs: Any,
    ) -> None:
        self.client = client or GatewayClient(base_url, api_key, **kwargs)
        # Who the audit records the write for; the gateway defaults to the key's principal.
        self.agent_id = agent_id or os.environ.get("MAS_AGENT_ID")
        self.agent_name = agent_name or os.environ.get("MAS_AGENT_NAME")
        self.wait_for_approval = wait_for_approval
        self.approval_timeout = approval_timeout

    async def __aenter__(self) -> "IntegrationClient":
        await self.client.open()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        idempotency_key: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        wait_for_approval: Optional[bool] = None,
    ) -> Any:
        """Any call the integration allows; returns its JSON (or text). Reads are retried; writes
        are not (each is its own audited action) unless the upstream call carries an
        ``idempotency_key``, which the gateway retries with."""
        if not path.startswith("/"):
            raise BadRequestError(f"path must start with '/': {path!r}")
        method = method.upper()
        send: Dict[str, str] = dict(headers or {})
        if self.agent_id:
            send["x-mas-agent-id"] = self.agent_id
        if self.agent_name:
            send["x-mas-agent-name"] = self.agent_name
        if idempotency_key:
            send["idempotency-key"] = idempotency_key
        res = await self.client.request(
            method, f"/v1/integrations/{self.name}{path}", json_body=json, params=params, headers=send
        )
        body = res.content()
        if res.status == 202 and isinstance(body, dict) and body.get("status") == "pending_approval":
            approval = body.get("approval") or {}
            pending = ApprovalPending(
                f"{self.name} {method} {path} waits for approval {approval.get('id')}",
                approval_id=approval.get("id"),
                action_id=body.get("action_id"),
                expires_at=approval.get("expires_at"),
                approval=approval,
                request=dict(method=method, path=path, json=json, params=params, headers=send),
            )
            if wait_for_approval if wait_for_approval is not None else self.wait_for_approval:
                return await self.resume(pending, timeout=self.approval_timeout)
            raise pending
        return body

    async def resume(self, pending: ApprovalPending, *, timeout: Optional[float] = None) -> Any:
        """Waits for the decision on a held write, then sends exactly the same request again with
        the receipt (the gateway checks it matches what was approved). Raises ApprovalRejected /
        ApprovalExpired / ApprovalTimeout like ``wait_for_approval``."""
        if not pending.request:
            raise BadRequestError("this ApprovalPending did not come from an integration write")
        receipt = await _wait(pending, timeout=timeout, client=self.client)
        req = pending.request
        headers = {
            **req["headers"],
            "x-mas-action-id": str(pending.action_id),
            "x-mas-approval-receipt": str(receipt),
        }
        res = await self.client.request(
            req["method"],
            f"/v1/integrations/{self.name}{req['path']}",
            json_body=req["json"],
            params=req["params"],
            headers=headers,
        )
        return res.content()

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return await self.request("POST", path, json=json, **kwargs)


class MINDEXClient(IntegrationClient):
    name = "mindex"

    async def get_data(self, resource: str, **params: Any) -> Any:
        return await self.get(f"/data/{_segment(resource)}", **params)

    async def get_resource(self, resource: str, resource_id: Any) -> Any:
        return await self.get(f"/resources/{_segment(resource)}/{_segment(resource_id)}")

    async def create_resource(self, resource: str, data: Mapping[str, Any], **kwargs: Any) -> Any:
        return await self.request("POST", f"/resources/{_segment(resource)}", json=dict(data), **kwargs)

    async def update_resource(
        self, resource: str, resource_id: Any, data: Mapping[str, Any], **kwargs: Any
    ) -> Any:
        path = f"/resources/{_segment(resource)}/{_segment(resource_id)}"
        return await self.request("PUT", path, json=dict(data), **kwargs)

    async def delete_resource(self, resource: str, resource_id: Any, **kwargs: Any) -> Any:
        path = f"/resources/{_segment(resource)}/{_segment(resource_id)}"
        return await self.request("DELETE", path, **kwargs)


class NatureOSClient(IntegrationClient):
    name = "natureos"

    async def get_entities(self, kind: str, **params: Any) -> Any:
        return await self.get(f"/entities/{_segment(kind)}", **params)

    async def get_entity(self, kind: str, entity_id: Any) -> Any:
        return await self.get(f"/entities/{_segment(kind)}/{_segment(entity_id)}")

    async def create_entity(self, kind: str, data: Mapping[str, Any], **kwargs: Any) -> Any:
        return await self.request("POST", f"/entities/{_segment(kind)}", json=dict(data), **kwargs)

    async def get_devices(self, **params: Any) -> Any:
        return await self.get("/devices/", **params)

    async def send_device_command(self, device_id: Any, command: Mapping[str, Any], **kwargs: Any) -> Any:
        path = f"/devices/{_segment(device_id)}/commands"
        return await self.request("POST", path, json=dict(command), **kwargs)


class WebsiteClient(IntegrationClient):
    name = "website"

    async def get_page(self, slug: str) -> Any:
        return await self.get(f"/pages/{_segment(slug)}")

    async def create_post(self, title: str, body: str, **fields: Any) -> Any:
        kwargs = {k: fields.pop(k) for k in ("idempotency_key", "wait_for_approval") if k in fields}
        return await self.request("POST", "/posts/", json={"title": title, "body": body, **fields}, **kwargs)
