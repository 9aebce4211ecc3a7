"""Structured logs (structlog) on stderr: one JSON object a line, or aligned text for people.

Every line carries `timestamp` (UTC, ISO 8601), `level`, `logger` and `event`, plus the context bound to the
Trio task that logged it: a connection's task binds `conn` and `address`, then `user` once signed in, and
`space` while in one (`bind`). Context lives in context variables, which each Trio task inherits as a copy
when it is started: what one connection binds is never seen by another. Lines from the standard library's
`logging` (the actors, hypercorn) go through the same formatter and carry the same context.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars, unbind_contextvars

__all__ = ["AnyLogger", "bind", "configure", "detached", "get_logger", "unbind"]

AnyLogger = logging.Logger | structlog.stdlib.BoundLogger
"""A logger of either kind: they take the same calls (`log.error("x %s", y, exc_info=e)`)."""
get_logger = structlog.stdlib.get_logger
bind = bind_contextvars
unbind = unbind_contextvars


def configure(level: str = "INFO", fmt: str = "auto", stream: IO[str] | None = None) -> str:
    """Send every log line (structlog's and the standard library's) to `stream` (stderr) at `level` and above,
    as `fmt`: "json", "text", or "auto" (text on a terminal, json otherwise). Returns the format chosen."""
    stream = sys.stderr if stream is None else stream
    if fmt == "auto":
        fmt = "text" if stream.isatty() else "json"
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    exceptions: Any = structlog.processors.format_exc_info if fmt == "json" else _keep
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                exceptions,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return fmt


def _to_stdlib() -> None:
    """Until `configure` runs (tests, or a library user), structlog's lines go to the standard library's
    logging, as its records with the context as extras: nothing is printed to stdout."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.render_to_log_kwargs,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


_to_stdlib()


def _keep(logger: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    """The text renderer formats exceptions itself."""
    return event


@contextmanager
def detached() -> Iterator[None]:
    """Run the block with no bound context, then restore it: for a call that starts long-lived tasks (a space's
    actor started by a connection's request) which would otherwise inherit, and log under, the caller's."""
    saved = get_contextvars()
    clear_contextvars()
    try:
        yield
    finally:
        bind_contextvars(**saved)
