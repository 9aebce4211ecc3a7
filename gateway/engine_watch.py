"""The server ends when the audio engine fails. The engine's threads (the fan-out's writers, the wire's reader,
the tick pool, the recording writers: Rust, `mixer-rs/src/engine.rs`) run beside the event loop, and a panic
in one (a bug) ends that thread alone: the loop would go on accepting clients and answering /healthz while the
clients that thread served hear nothing, or get nothing at all. A half-dead server is worse than none: the
process exits instead (`stoa serve` with status 70, EX_SOFTWARE, after a line on stderr saying which
thread failed and where), so that its supervisor restarts it, and clients resume there with everything they
missed (what the server keeps survives a restart: docs/operations.md, When the audio engine fails).
"""

from __future__ import annotations

import logging

import trio

import mixer

log = logging.getLogger("gateway.engine")

CHECK_EVERY_S = 1.0
"""How often the engine is checked: a lost thread is noticed within this (a read of one atomic, in Rust)."""


class EngineFailed(Exception):
    """An engine thread died; the message is the panic ("thread 'NAME' panicked at FILE:LINE: MESSAGE")."""


async def watch_engine(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Raise `EngineFailed` once an engine thread has panicked, which ends the server's nursery."""
    task_status.started()
    while True:  # polled: a Rust thread that panicked cannot wake the loop
        failure = mixer.engine_failure()
        if failure is not None:
            break
        await trio.sleep(CHECK_EVERY_S)
    log.critical("the audio engine failed, the server stops: %s", failure)
    raise EngineFailed(failure)
