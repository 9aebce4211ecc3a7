"""`RtcService` in this process, on loopback: what asyncio code leaves unhandled ends nothing, and the server's
sockets always find their loop, however a request reached the service (each with a control that shows the
failure the check would see)."""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio_asyncio
from aioice import stun
from aiortc.sdp import SessionDescription

from gateway.webrtc import RtcService, RtcSettings
from gateway.webrtc.peer import RtcPeer
from gateway.webrtc.speaker import make_offer


@asynccontextmanager
async def running_service() -> AsyncIterator[RtcService]:
    service = RtcService(RtcSettings(addresses=("127.0.0.1",)))
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        yield service
        nursery.cancel_scope.cancel()


async def offer() -> str:
    return await trio.to_thread.run_sync(asyncio.run, make_offer())


async def check_from_a_new_address(service: RtcService, offer_sdp: str, answer_sdp: str) -> None:
    """A valid ICE connectivity check (STUN binding request) from an address the server does not know: the
    server answers it and starts a check of its own towards it (RFC 8445 7.3.1.3-4), from its socket's
    callback. Returns once that check's own binding request has reached the address, or once starting it
    has failed (an asyncio error counted): the caller tells which by `service.asyncio_errors`."""
    local = SessionDescription.parse(answer_sdp).media[0]
    remote = SessionDescription.parse(offer_sdp).media[0]
    assert local.ice is not None and remote.ice is not None
    (candidate,) = [c for c in local.ice_candidates if c.ip == "127.0.0.1"]
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    request.attributes["USERNAME"] = f"{local.ice.usernameFragment}:{remote.ice.usernameFragment}"
    request.attributes["PRIORITY"] = 1_000_000
    request.attributes["ICE-CONTROLLING"] = 2**60
    request.add_message_integrity(local.ice.password.encode())
    errors = service.asyncio_errors
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    with sock, trio.fail_after(5):
        await sock.sendto(bytes(request), (candidate.ip, candidate.port))
        response = stun.parse_message(await sock.recv(2048))
        assert response.message_class == stun.Class.RESPONSE  # the server took the check
        async with trio.open_nursery() as nursery:

            async def its_check_arrives() -> None:
                while stun.parse_message(await sock.recv(2048)).message_class != stun.Class.REQUEST:
                    pass
                nursery.cancel_scope.cancel()

            async def its_check_failed() -> None:
                while service.asyncio_errors == errors:  # noqa: ASYNC110 (counted by the asyncio loop's handler)
                    await trio.sleep(0.01)
                nursery.cancel_scope.cancel()

            nursery.start_soon(its_check_arrives)
            nursery.start_soon(its_check_failed)


@pytest.mark.filterwarnings("ignore:coroutine 'Connection.check_start' was never awaited")  # the control's
async def test_the_servers_sockets_find_their_loop_whichever_task_asked_for_the_answer() -> None:
    with trio.fail_after(30):
        async with running_service() as service:
            sdp = await offer()
            answer = await service.open("owner", sdp, lambda seq, at, opus, level: True, lambda reason: None)
            await check_from_a_new_address(service, sdp, answer)
            assert service.asyncio_errors == 0

            # The control: answered from this task (not one of the service's), the socket callbacks of that peer
            # connection have no loop, and the same check fails in aioice.
            peer = RtcPeer((), ["127.0.0.1"], lambda seq, at, opus, level: True, lambda peer, reason: None)
            loop = service._loop
            answer = await trio_asyncio.aio_as_trio(peer.answer, loop=loop)(sdp)
            await check_from_a_new_address(service, sdp, answer)
            assert service.asyncio_errors == 1
            await trio_asyncio.aio_as_trio(peer.stop, loop=loop)()
            gc.collect()  # the control's coroutine that never ran, warned about here (filtered above)


async def test_an_error_asyncio_code_leaves_unhandled_is_logged_and_ends_nothing() -> None:
    def fails() -> None:
        raise RuntimeError("a fault in a callback")

    with trio.fail_after(30):
        async with running_service() as service:
            assert service._loop is not None
            service._loop.call_soon(fails)
            with trio.fail_after(5):
                while not service.asyncio_errors:  # noqa: ASYNC110 (counted by the asyncio loop's handler)
                    await trio.sleep(0.01)
            assert service.asyncio_errors == 1
            sdp = await offer()
            assert "a=candidate" in await service.open("owner", sdp, lambda seq, at, opus, level: True, lambda r: None)

        # The control: trio-asyncio's own handler raises the same fault into the loop's nursery.
        raised = False
        try:
            async with trio_asyncio.open_loop() as loop:
                loop.call_soon(fails)
                await trio.sleep(0.1)
        except BaseException as error:  # an ExceptionGroup holding the RuntimeError
            raised = "a fault in a callback" in repr(error)
        assert raised
