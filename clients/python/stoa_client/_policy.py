"""What the client does after a close, from the close-code table of `docs/protocol.md`: reconnect or not.

A resume follows every reconnection of a client that was in a space (the server says whether the place was
kept); so "reconnect" here means "reconnect, then resume".
"""

from __future__ import annotations

RECONNECTING = 4100
"""The close code this client sends when it drops a connection on purpose to reconnect (`reconnect_now`):
anything but 1000 and 1001 keeps the user's place in its space for the server's resume window."""

GOODBYE = 1000
"""The close code this client sends when the application is done: the server lets the place go at once."""

FINAL_CLOSES = frozenset({1000, 1003, 1008, 1009, 4002, 4005})
"""Closes after which the client does not reconnect: a goodbye, a client bug (text, bad messages, too big),
a newer connection of the same user (4002), an account suspended (4005, reserved for operators' tools)."""

FINAL_HELLO_ERRORS = frozenset({"token_invalid", "token_expired", "guest_token_invalid", "unsupported_protocol"})
"""`hello` refusals that another attempt cannot cure: the client stops and reports the close."""


def should_reconnect(code: int | None) -> bool:
    """Whether to reconnect after the server (or the network) closed with `code` (None or 1006: no close
    frame, the connection broke)."""
    return code not in FINAL_CLOSES
