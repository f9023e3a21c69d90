"""RpcDispatcher: how the callee answers one call, from the policy's verdict to the handler's.

    dispatcher = RpcDispatcher(registry, responder, policy=policy)
    answer = await dispatcher.dispatch(handler, invocation)    # a packet, or a v2 stream

With a `policy` (the daemon's `edge.access.AccessPolicy`), every call first passes its
per-caller limits (else 2004), then its access and payload check (2003 / 2000), in that order,
here and nowhere else. A method registered with `params` then has its payload validated against
its schema (else 2000): the handler reads `invocation.params` and never sees an invalid one.
What a handler raises is answered in one place: an `EdgeError` with a code
(`edge.errors.wire_error`) as that error, anything else as 1500; a handler that outlives the
caller's response timeout is cancelled (1502). The same for v1 and v2 calls: the answer goes
back the way the call came. The endpoint (`edge.livekit.rpc`) owns the
packets; this owns the decisions that need the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from edge.errors import EdgeError, InvalidPayload, RpcError, wire_error
from edge.livekit.rpc_registry import MethodRegistry, RpcHandler
from edge.protocol.codes import ErrorCode
from edge.protocol.rpc import Answer, RpcErrorCode, RpcInvocation, RpcResponder, built_in
from edge.protocol.rpc_limits import CallLimiter, CallLimits

__all__ = ["RpcDispatcher", "RpcPolicy"]

_LOGGER = logging.getLogger(__name__)


class RpcPolicy(Protocol):
    """Decides, before a handler runs, whether a call may run (see `edge.access`)."""

    def limits(self, method: str) -> CallLimits:
        """The per-caller and overall limits of `method`."""
        ...

    def check(self, invocation: RpcInvocation) -> RpcError | None:
        """The error to answer instead of running the handler, or None."""
        ...

    def may_call(self, caller: str, method: str) -> bool:
        """Whether `caller` may call `method` at all (for `edge.describe`)."""
        ...


class RpcDispatcher:
    """Answers calls of one endpoint's registered methods; without a policy, anyone may call."""

    def __init__(
        self, methods: MethodRegistry, responder: RpcResponder, *, policy: RpcPolicy | None
    ) -> None:
        self._methods = methods
        self._responder = responder
        self._policy = policy
        self._limiter = CallLimiter()

    async def dispatch(self, handler: RpcHandler | None, invocation: RpcInvocation) -> Answer:
        """The answer to `invocation`: a refusal, or what `handler` (None: unknown) returned."""
        method, caller = invocation.method, invocation.caller_identity
        if handler is None:  # never registered, or unregistered while the request was on its way
            return self._responder.respond(
                invocation, error=built_in(RpcErrorCode.UNSUPPORTED_METHOD)
            )
        if self._policy is None:
            return await self._validated(handler, invocation)
        refusal = self._limiter.admit(caller, method, self._policy.limits(method), time.monotonic())
        if refusal is not None:
            _LOGGER.debug("rpc %r from %r refused: %s", method, caller, refusal)
            limited = RpcError(ErrorCode.RATE_LIMITED, refusal)
            return self._responder.respond(invocation, error=limited)
        try:
            error = self._policy.check(invocation)
            if error is not None:
                _LOGGER.info("rpc %r from %r refused: %s", method, caller, error)
                return self._responder.respond(invocation, error=error)
            return await self._validated(handler, invocation)
        finally:
            self._limiter.release(caller, method)

    async def _validated(self, handler: RpcHandler, invocation: RpcInvocation) -> Answer:
        """Run `handler` on the payload validated against the method's schema, if it has one."""
        try:
            prepared = self._methods.prepared(invocation)
        except InvalidPayload as exc:
            error = wire_error(exc) or RpcError(ErrorCode.INVALID_PAYLOAD, str(exc))
            _LOGGER.info(
                "rpc %r from %r refused: %s", invocation.method, invocation.caller_identity, error
            )
            return self._responder.respond(invocation, error=error)
        return await self._run(handler, prepared)

    async def _run(self, handler: RpcHandler, invocation: RpcInvocation) -> Answer:
        method, caller = invocation.method, invocation.caller_identity
        deadline = asyncio.timeout(invocation.response_timeout_s)
        try:
            async with deadline:
                result: object = await handler(invocation)
        except TimeoutError:
            if not deadline.expired():
                _LOGGER.warning("rpc %r from %r: handler timed out", method, caller, exc_info=True)
                return self._responder.respond(
                    invocation, error=built_in(RpcErrorCode.APPLICATION_ERROR)
                )
            _LOGGER.warning(
                "rpc %r from %r: no answer within the caller's %g s; handler cancelled",
                method,
                caller,
                invocation.response_timeout_s,
            )
            return self._responder.respond(
                invocation, error=built_in(RpcErrorCode.RESPONSE_TIMEOUT)
            )
        except EdgeError as exc:
            error = wire_error(exc)
            if error is None:  # a failure, not a refusal: the log has why
                _LOGGER.warning("rpc %r from %r: handler failed", method, caller, exc_info=True)
                error = built_in(RpcErrorCode.APPLICATION_ERROR)
            else:
                _LOGGER.info("rpc %r from %r answered with %s", method, caller, error)
            return self._responder.respond(invocation, error=error)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the room is closing
            _LOGGER.warning("rpc %r from %r: handler raised CancelledError", method, caller)
            return self._responder.respond(
                invocation, error=built_in(RpcErrorCode.APPLICATION_ERROR)
            )
        except Exception:
            # The handler boundary: the caller learns only that it failed; the log has why.
            _LOGGER.warning("rpc %r from %r: handler failed", method, caller, exc_info=True)
            return self._responder.respond(
                invocation, error=built_in(RpcErrorCode.APPLICATION_ERROR)
            )
        if result is None:
            result = ""
        if not isinstance(result, str):
            _LOGGER.warning("rpc %r handler returned %s, not str", method, type(result).__name__)
            return self._responder.respond(
                invocation, error=built_in(RpcErrorCode.APPLICATION_ERROR)
            )
        return self._responder.respond(invocation, payload=result)
