"""A lost session on a node that is down: resumed elsewhere only when there is an elsewhere."""

from __future__ import annotations

from typing import Any

import pytest

from edge.errors import RoomError, ServerUnreachable, SignalError
from edge.livekit import resume as resume_module
from edge.livekit.resume import REFUSALS_TO_MOVE_ON, SessionResume


class Link:
    """The signal link of a session whose node refuses (or times out) every reconnect."""

    def __init__(self, *, refused: bool) -> None:
        self.refused = refused
        self.reopened = 0

    async def aclose(self) -> None:
        pass

    async def reopen(self, url: str, **_: Any) -> None:
        self.reopened += 1
        raise ServerUnreachable(f"cannot reach {url}/rtc: refused", refused=self.refused)


class Peer:
    network_changed = False

    def expect_ice_restart(self) -> None:
        pass


def resume(link: Link, *, others: bool) -> SessionResume:
    return SessionResume(
        link=link,  # type: ignore[arg-type]  # the reopen path only
        publications=None,  # type: ignore[arg-type]  # never reached: reopen fails first
        publisher=Peer(),  # type: ignore[arg-type]
        subscriber=Peer(),  # type: ignore[arg-type]
        url="ws://node-a:7880",
        others=others,
        connect_timeout_s=1.0,
        query=dict,
        token=lambda: "t",
        sync_state=bytes,
        subscriber_negotiated=lambda: False,
    )


@pytest.fixture(autouse=True)
def no_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resume_module, "RESUME_DELAYS_S", (0.0,))


async def test_a_refusing_node_is_given_up_after_two_attempts_when_another_exists() -> None:
    link = Link(refused=True)
    with pytest.raises(SignalError, match="the node is down: joining through another"):
        await resume(link, others=True).run(RoomError("lost"), timeout_s=30)
    assert link.reopened == REFUSALS_TO_MOVE_ON


@pytest.mark.parametrize(
    ("refused", "others"), [(True, False), (False, True)], ids=["only-node", "our-network"]
)
async def test_otherwise_resuming_keeps_trying_until_its_deadline(
    refused: bool, others: bool
) -> None:
    link = Link(refused=refused)
    with pytest.raises(SignalError, match=r"could not resume the session within 0\.05 s"):
        await resume(link, others=others).run(RoomError("lost"), timeout_s=0.05)
    assert link.reopened > REFUSALS_TO_MOVE_ON
