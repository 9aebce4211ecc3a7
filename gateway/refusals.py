"""One connection's refusals, the session's bookkeeping of them (`gateway/session.py`): the count that closes
a connection refused too often in a row (1008), and how often its refusals are logged and its audio answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_REFUSED_IN_A_ROW = 20
"""Messages a connection may have refused in a row, unread (`bad_message`, `unknown_type`, or `rate_limited`
by its own `requests` limit): the next one closes it with 1008 (docs/protocol.md, *Rate limits and caps*)."""


class Refusals:
    """What one connection was refused, and when.

    The count in a row is of the messages the server did not read as requests: those it could not decode,
    and those refused before decoding because the connection's `requests` bucket was empty. Only a message
    read and handled ends the row (a request answered, whatever the answer); audio is not a request and
    neither counts nor ends it, so a speaker's stream cannot keep a flood of refused messages open.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._in_a_row = 0
        self._logs = _OncePerSecond(clock)
        self._audio_answers = _OncePerSecond(clock)

    def unread(self) -> bool:
        """One more message refused unread; True when it is one too many (close the connection)."""
        self._in_a_row += 1
        return self._in_a_row > MAX_REFUSED_IN_A_ROW

    def handled(self) -> None:
        """A message was read as a request: the row ends."""
        self._in_a_row = 0

    def to_log(self, code: str) -> int | None:
        """Whether to log a refusal with `code` now: at most once a second per code (a client may send
        thousands), with how many went unlogged since; None: not now."""
        return self._logs.due(code)

    def to_answer_audio(self, code: str) -> bool:
        """Whether to answer refused audio with `code` now: at most once a second per code, so that a stream
        of 50 packets a second from a confused client does not become a stream of 50 errors."""
        return self._audio_answers.due(code) is not None


class _OncePerSecond:
    """At most once a second per code: when it is due, how many times it was not since."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last: dict[str, tuple[float, int]] = {}  # code -> (last due, not due since)

    def due(self, code: str) -> int | None:
        now = self._clock()
        last, skipped = self._last.get(code, (-10.0, 0))
        if now - last >= 1.0:
            self._last[code] = (now, 0)
            return skipped
        self._last[code] = (last, skipped + 1)
        return None
