"""What WebRTC costs the server: receiving speakers' Opus over aiortc, and what sending a browser speaker its
mix-minus over a peer connection would cost against the WebSocket (the Rust fan-out).

    python -m bench.webrtc_bench [--speakers 13] [--seconds 10] [--rounds 2]

1. **Receiving.** A real `stoa serve` process; `--speakers` accounts on the mic of one space, in this process
   (Python clients: trio, and aiortc under trio-asyncio), each sending real Opus of a tone, 50 packets a
   second. Phases, interleaved `--rounds` times: *idle* (everyone connected, nothing sent), *WebSocket*
   (`audio` messages), *WebRTC* (a peer connection each, Opus RTP). The server's CPU time is read from
   /proc; each phase's, minus the idle phase's, is divided by the packets sent in it. Both sending phases
   include the same mixing (13 inputs decoded, at most 4 mixed, encoded); their difference per packet is
   what taking a packet through aiortc (UDP, SRTP, RTP parsing, the hook) costs beyond a WebSocket message.
2. **Sending the mix-minus.** A subprocess sends `--speakers` streams of 50 packets a second (one per
   browser speaker), either as RTP on aiortc peer connections (SRTP, packetising, a task per sender) to
   receivers in this process, or as WebSocket messages through the Rust fan-out (`mixer.Fanout.send_audio`
   from Python, a call per packet: more than the server's Rust driver, which calls it without Python) to
   TCP connections this process drains. The subprocess's CPU time (all its threads), minus an idle window
   with the same connections open, is divided by the packets sent.

Saves bench/results/webrtc.json. The machine is shared: compare the figures of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import trio
import trio_asyncio

from actors.space import Role
from bench.results_file import commit
from gateway.client import Client, connect_account
from gateway.webrtc.speaker import OpusTrack, RtcSpeaker, open_rtc_speaker
from loadtest.monitor import usage
from mixer import FRAME_SAMPLES, SAMPLE_RATE, Encoder

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FRAME_S = 0.020


def tone_packets(freq_hz: float, seconds: float) -> list[bytes]:
    import numpy as np

    n = int(seconds * SAMPLE_RATE) // FRAME_SAMPLES * FRAME_SAMPLES
    pcm = (np.sin(2 * np.pi * freq_hz * np.arange(n) / SAMPLE_RATE) * 0.25 * 32767).astype("<i2")
    encoder = Encoder(bitrate=32000, complexity=5)
    return [encoder.encode(pcm[i : i + FRAME_SAMPLES].tobytes()) for i in range(0, n, FRAME_SAMPLES)]


# -- 1. receiving -----------------------------------------------------------------------------------------


def start_server(data: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", "0", "--http-port", "off", "--data", str(data),
         "--rate-limits", "off", "--log-level", "WARNING"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("stoa: listening on ws://"):
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, f"ws://127.0.0.1:{line.rsplit(':', 1)[1].strip().rstrip('/')}/"


def server_cpu(pid: int) -> float:
    u = usage(pid)
    assert u is not None, "the server is gone"
    return u.cpu_s


async def stream_ws(client: Client, packets: list[bytes], seconds: float, sent: list[int]) -> None:
    start = trio.current_time()
    i = 0
    while i * FRAME_S < seconds:
        await trio.sleep_until(start + i * FRAME_S)
        await client.send_audio(i + 1, time.time_ns() // 1000, packets[i % len(packets)])
        i += 1
    sent.append(i)


async def receiving(speakers: int, seconds: float, rounds: int) -> dict[str, Any]:
    packets = tone_packets(440.0, 2.0)
    with tempfile.TemporaryDirectory() as data:
        proc, url = start_server(Path(data))
        try:
            return await _receiving(proc.pid, url, packets, speakers, seconds, rounds)
        finally:
            proc.terminate()
            proc.wait(10)


async def _receiving(
    pid: int, url: str, packets: list[bytes], speakers: int, seconds: float, rounds: int
) -> dict[str, Any]:
    phases: dict[str, list[tuple[float, int]]] = {"idle": [], "websocket": [], "webrtc": []}
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:

        async def person(i: int, *, task_status: trio.TaskStatus[Client] = trio.TASK_STATUS_IGNORED) -> None:
            async with connect_account(url, f"speaker{i}") as client:
                task_status.started(client)
                await trio.sleep_forever()

        clients: list[Client] = [await nursery.start(person, i) for i in range(speakers)]
        host, others = clients[0], clients[1:]
        space_id = (await host.create_space("WebRTC bench")).space.space_id
        for c in others:
            await c.join_space(space_id)
            await host.set_role(c.user, Role.SPEAKER)
        for _ in range(rounds):
            before = server_cpu(pid)
            await trio.sleep(seconds)
            phases["idle"].append((server_cpu(pid) - before, 0))

            sent: list[int] = []
            before = server_cpu(pid)
            async with trio.open_nursery() as n:
                for c in clients:
                    n.start_soon(stream_ws, c, packets, seconds, sent)
            phases["websocket"].append((server_cpu(pid) - before, sum(sent)))
            await trio.sleep(1.0)  # the mixer's hangover

            phases["webrtc"].append(await _webrtc_phase(pid, clients, packets, seconds))
            await trio.sleep(1.0)
        nursery.cancel_scope.cancel()
    return _per_packet(phases, seconds)


async def _webrtc_phase(pid: int, clients: list[Client], packets: list[bytes], seconds: float) -> tuple[float, int]:
    """Every client opens a peer connection (not measured), then all send for `seconds` (measured)."""
    done = trio.Event()
    measured: list[tuple[float, int]] = []

    async def one(c: Client, *, task_status: trio.TaskStatus[RtcSpeaker] = trio.TASK_STATUS_IGNORED) -> None:
        async with open_rtc_speaker(c, packets, repeat=True) as speaker:
            task_status.started(speaker)
            await done.wait()

    async with trio.open_nursery() as n:
        opened = [await n.start(one, c) for c in clients]
        sent_before, before = sum(s.track.sent for s in opened), server_cpu(pid)
        await trio.sleep(seconds)
        measured.append((server_cpu(pid) - before, sum(s.track.sent for s in opened) - sent_before))
        done.set()
    return measured[0]


def _per_packet(phases: dict[str, list[tuple[float, int]]], seconds: float) -> dict[str, Any]:
    idle_cores = sum(cpu for cpu, _ in phases["idle"]) / (seconds * len(phases["idle"]))
    out: dict[str, Any] = {"idle_cores": round(idle_cores, 4), "seconds": seconds, "rounds": len(phases["idle"])}
    for name in ("websocket", "webrtc"):
        cpu = sum(c for c, _ in phases[name])
        sent = sum(p for _, p in phases[name])
        beyond = cpu - idle_cores * seconds * len(phases[name])
        out[name] = {
            "packets": sent,
            "server_cores": round(cpu / (seconds * len(phases[name])), 4),
            "us_per_packet": round(beyond / sent * 1e6, 1),
        }
    out["aiortc_extra_us_per_packet"] = round(out["webrtc"]["us_per_packet"] - out["websocket"]["us_per_packet"], 1)
    return out


# -- 2. sending the mix-minus -----------------------------------------------------------------------------


def sending(streams: int, seconds: float) -> dict[str, Any]:
    return {way: trio.run(_sending, way, streams, seconds) for way in ("webrtc", "fanout")}


async def _sending(way: str, streams: int, seconds: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.webrtc_bench", "--sender", way, "--speakers", str(streams),
               "--seconds", str(seconds)]  # fmt: skip
    async with trio_asyncio.open_loop():
        proc = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
        assert proc.stdin is not None and proc.stdout is not None
        lines = _Lines(proc.stdout)
        async with trio.open_nursery() as nursery:
            if way == "webrtc":
                receivers = []
                for _ in range(streams):
                    offer = json.loads(await lines.next())["offer"]
                    receiver, answer = await trio_asyncio.aio_as_trio(_receive)(offer)
                    receivers.append(receiver)
                    await proc.stdin.send_all((json.dumps({"answer": answer}) + "\n").encode())
            else:
                listener = trio.socket.socket()
                await listener.bind(("127.0.0.1", 0))
                listener.listen(streams)
                await proc.stdin.send_all((json.dumps({"port": listener.getsockname()[1]}) + "\n").encode())
                for _ in range(streams):
                    conn, _ = await listener.accept()
                    nursery.start_soon(_drain, conn)
            result: dict[str, Any] = json.loads(await lines.next())
            nursery.cancel_scope.cancel()
        await proc.wait()
        if way == "webrtc":
            for receiver in receivers:
                await trio_asyncio.aio_as_trio(receiver.close)()
    return result


class _Lines:
    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream, self._buffer = stream, b""

    async def next(self) -> str:
        while b"\n" not in self._buffer:
            chunk = await self._stream.receive_some()
            if not chunk:
                raise RuntimeError("the sender ended early")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()


async def _receive(offer: str) -> tuple[Any, str]:
    """(asyncio) A receiving peer connection that counts nothing and decodes nothing."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from gateway.webrtc import bind_hosts

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("audio", direction="recvonly")

    async def ignore(packet: object, arrival_time_ms: int) -> None:
        return None

    transceiver.receiver._handle_rtp_packet = ignore  # type: ignore[method-assign]
    bind_hosts(pc, ["127.0.0.1"])
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return pc, pc.localDescription.sdp


async def _drain(conn: trio.socket.SocketType) -> None:
    while await conn.recv(65536):
        pass


def sender_main(way: str, streams: int, seconds: float) -> None:
    """The subprocess: open `streams` outputs, measure its own CPU idle, then sending, and print the result."""
    packets = tone_packets(440.0, 2.0)
    if way == "webrtc":
        result = trio_asyncio.run(_send_rtc, packets, streams, seconds)
    else:
        result = _send_fanout(packets, streams, seconds)
    print(json.dumps(result), flush=True)


async def _send_rtc(packets: list[bytes], streams: int, seconds: float) -> dict[str, Any]:
    speakers = []
    gate = asyncio.Event()
    for _ in range(streams):
        track = OpusTrack(packets, repeat=True, gate=gate)
        speaker = RtcSpeaker(track, ["127.0.0.1"])
        offer = await trio_asyncio.aio_as_trio(speaker.offer)()
        print(json.dumps({"offer": offer}), flush=True)
        answer = json.loads(await trio.to_thread.run_sync(sys.stdin.readline))["answer"]
        await trio_asyncio.aio_as_trio(speaker.accept)(answer)
        speakers.append(speaker)
    for speaker in speakers:
        await trio_asyncio.aio_as_trio(speaker.connected)()
    # Idle: the connections open (ICE consent checks, RTCP), the tracks held at their gate.
    idle = time.process_time()
    await trio.sleep(seconds)
    idle = time.process_time() - idle
    gate.set()
    await trio.sleep(0.5)
    start_sent = sum(s.track.sent for s in speakers)
    busy = time.process_time()
    await trio.sleep(seconds)
    busy = time.process_time() - busy
    sent = sum(s.track.sent for s in speakers) - start_sent
    for speaker in speakers:
        await trio_asyncio.aio_as_trio(speaker.close)()
    return _sender_result(idle, busy, sent, seconds)


def _send_fanout(packets: list[bytes], streams: int, seconds: float) -> dict[str, Any]:
    from mixer import Fanout

    port = json.loads(sys.stdin.readline())["port"]
    fanout = Fanout()
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(streams)]
    conns = [fanout.register(s.fileno()) for s in socks]
    encoder = msgspec.msgpack.Encoder()
    messages = [
        encoder.encode({"type": "audio", "frames": [{"seq": i, "captured_at": 0, "opus": p}]})
        for i, p in enumerate(packets)
    ]
    idle = time.process_time()
    time.sleep(seconds)
    idle = time.process_time() - idle
    busy, sent, start = time.process_time(), 0, time.monotonic()
    while time.monotonic() - start < seconds:
        for conn in conns:
            fanout.send_audio(conn, messages[sent // streams % len(messages)])
            sent += 1
        time.sleep(max(0.0, (sent // streams) * FRAME_S - (time.monotonic() - start)))
    busy = time.process_time() - busy
    fanout.shutdown()
    return _sender_result(idle, busy, sent, seconds)


def _sender_result(idle_s: float, busy_s: float, sent: int, seconds: float) -> dict[str, Any]:
    return {
        "packets": sent,
        "idle_cores": round(idle_s / seconds, 4),
        "sending_cores": round(busy_s / seconds, 4),
        "us_per_packet": round((busy_s - idle_s) / sent * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speakers", type=int, default=13)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sender", choices=["webrtc", "fanout"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sender:
        sender_main(args.sender, args.speakers, args.seconds)
        return
    received = trio.run(receiving, args.speakers, args.seconds, args.rounds)
    sent = sending(args.speakers, args.seconds)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "command": "python -m bench.webrtc_bench " + " ".join(sys.argv[1:]),
        "commit": commit(),
        "speakers": args.speakers,
        "receiving": received,
        "sending_mix_minus": sent,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "webrtc.json").write_text(json.dumps(result, indent=2) + "\n")
    r, s = received, sent
    print(f"receiving, {args.speakers} speakers, server CPU beyond idle ({r['idle_cores']} cores idle):")
    print("| path | packets | server cores | µs per packet |")
    print("|---|---|---|---|")
    for name in ("websocket", "webrtc"):
        print(f"| {name} | {r[name]['packets']} | {r[name]['server_cores']} | {r[name]['us_per_packet']} |")
    print(f"aiortc beyond a WebSocket message: {r['aiortc_extra_us_per_packet']} µs per packet")
    print(f"sending {args.speakers} mix-minus streams, sender CPU beyond idle:")
    print("| path | packets | cores | µs per packet |")
    print("|---|---|---|---|")
    for name in ("webrtc", "fanout"):
        print(f"| {name} | {s[name]['packets']} | {s[name]['sending_cores']} | {s[name]['us_per_packet']} |")


if __name__ == "__main__":
    main()
