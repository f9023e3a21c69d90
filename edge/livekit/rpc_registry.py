"""MethodRegistry: the RPC methods one endpoint answers, each with its schema and description.

    registry = MethodRegistry()
    registry.register("gpio.set", handler, description="...", params=SET_PARAMS)
    invocation = registry.prepared(invocation)   # params filled in, or InvalidPayload (2000)
    registry.describe()                          # the `edge.describe` answer

A method registered with `params` (its payload's JSON schema, `edge.protocol.schema`) has every
payload checked against it before its handler runs; a `description` publishes the method and
its schema in `describe`. Pure bookkeeping: no I/O, nothing awaited.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from edge.protocol.codes import ErrorCode
from edge.protocol.payload import MAX_BYTES
from edge.protocol.rpc import RpcErrorCode, RpcInvocation
from edge.protocol.schema import Schema, check_schema, prepare

RpcHandler = Callable[[RpcInvocation], Awaitable[str]]
"""Answers one call; raise an `EdgeError` with a code to send that error, anything else: 1500."""


class MethodRegistry:
    """Method name -> handler, payload schema and description; `in` asks whether one is known."""

    def __init__(self) -> None:
        self._handlers: dict[str, RpcHandler] = {}
        self._schemas: dict[str, tuple[Schema, int]] = {}
        self._descriptions: dict[str, Mapping[str, Any]] = {}

    def register(
        self,
        method: str,
        handler: RpcHandler,
        *,
        description: str = "",
        params: Schema | None = None,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        """Answer `method` with `handler`, replacing any earlier registration of it."""
        if not method:
            raise ValueError("an RPC method needs a name")
        if params is not None:
            check_schema(params)
            self._schemas[method] = (params, max_bytes)
        else:
            self._schemas.pop(method, None)
        self._handlers[method] = handler
        if description:
            schema = dict(params or {"type": "object", "properties": {}})
            self._descriptions[method] = {"description": description, "params": schema}

    def unregister(self, method: str) -> None:
        """Forget `method`; unknown names are ignored."""
        self._handlers.pop(method, None)
        self._schemas.pop(method, None)
        self._descriptions.pop(method, None)

    def __contains__(self, method: object) -> bool:
        return method in self._handlers

    def handler(self, method: str) -> RpcHandler | None:
        """The handler of `method`, if registered."""
        return self._handlers.get(method)

    def prepared(self, invocation: RpcInvocation) -> RpcInvocation:
        """`invocation` with its payload validated into `params`; raise `InvalidPayload`.

        A method registered without a schema gets its invocation back unchanged.
        """
        registered = self._schemas.get(invocation.method)
        if registered is None:
            return invocation
        schema, max_bytes = registered
        params = prepare(invocation.payload, schema, max_bytes=max_bytes)
        return dataclasses.replace(invocation, params=params)

    @property
    def descriptions(self) -> Mapping[str, Mapping[str, Any]]:
        """Described methods: name -> {"description", "params" (a JSON schema)}."""
        return dict(self._descriptions)

    def describe(self, callable_by: Callable[[str], bool] | None = None) -> str:
        """Every described method with its schema, and every error code, as JSON.

        With `callable_by`, each method also says whether the asking caller may call it
        (`"callable"`; for a per-device method: on some device), so a console offers only what
        will not be refused.
        """
        codes = (*ErrorCode, *RpcErrorCode)
        methods = self.descriptions
        if callable_by is not None:
            methods = {name: {**d, "callable": callable_by(name)} for name, d in methods.items()}
        return json.dumps(
            {
                "methods": methods,
                "errors": {code.name: int(code) for code in codes},
            }
        )
