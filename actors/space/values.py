"""The space's values: roles, participants, posts and the whole state, all frozen.

These are plain data: `domain.py` computes new values from old ones, the actor keeps the current one.
The values that travel on the wire (roles, people, posts) are the protocol package's (`stoa_protocol`),
re-exported here; the state and the rules' limits are the server's own.
"""

from __future__ import annotations

import secrets
import string

import msgspec
from stoa_protocol import (  # the wire's values, re-exported
    Consent as Consent,
    Participant as Participant,
    Person as Person,
    Post as Post,
    Role as Role,
    SpaceStatus as SpaceStatus,
    SpeakerPolicy as SpeakerPolicy,
)

from actors.space.replay import EventLog

MAX_SPEAKERS = 13
"""People on the mic at once, the host included (as in Twitter/X Spaces)."""

MAX_COHOSTS = 2
"""Co-hosts at once (they count among the people on the mic)."""

MAX_PINNED = 3
"""Posts pinned at once: pinning one more unpins the oldest pin."""

MAX_TITLE_CHARS = 100
MAX_POST_CHARS = 1000
MAX_DESCRIPTION_CHARS = 500
MAX_TOPICS = 3
MAX_TOPIC_CHARS = 30
"""A space's description and topics: the same limits as a scheduled space's (`store/_schedule.py`)."""

SPACE_ID_CHARS = 12
SPACE_ID_ALPHABET = string.ascii_letters + string.digits
"""A space's id: 12 letters and digits (71 bits). Never `-` or `_`: an id is typed after a command in a
terminal (`stoa listen URL <id>`), where one beginning with `-` would be read as an option."""


def new_space_id() -> str:
    """A fresh, unguessable space id."""
    return "".join(secrets.choice(SPACE_ID_ALPHABET) for _ in range(SPACE_ID_CHARS))


REACTIONS = frozenset({"💯", "👏", "✋", "😂", "❤️", "🔥", "👍", "🙏", "😮", "😢"})
"""The emoji a participant may react with (`docs/protocol.md` lists them)."""

MAX_CHURN_NAMES = 20
"""How many names an `audience_changed` event lists of those who came and went (the counts are exact)."""

MAX_GONE = 1000
"""How many of the users whose place a space let go after their connection closed it remembers (a late
`resume` from one of them joins anew; from anyone else it is refused)."""

RECENT_POSTS = 50
"""How many of the latest posts a space holds in memory and shows in its snapshot; the whole timeline is
in the store, read a page at a time (`get_posts`)."""


class Recording(msgspec.Struct, frozen=True):
    """The space's current recording (`domain/recording.py`): its id (`r-<hex>`, server-issued), when it
    started (ms) and who turned it on; `consents` the stated consent of people present (on the mic or not:
    only those on the mic are recorded, and only with `GIVEN`). `first_part`: the number of the first part
    file this server writes of it (0 for a new recording; more for one brought back after a restart, whose
    earlier parts are on disk)."""

    recording_id: str
    started_at: int
    by: str
    consents: dict[str, Consent] = {}
    first_part: int = 0

    def consented(self, user: str) -> bool:
        return self.consents.get(user) is Consent.GIVEN


class Churn(msgspec.Struct, frozen=True):
    """The listeners one change brought in and let go, each once, in order, at `at` (ms): what `arrived` and
    `departed` only collect for the next `audience_changed` (which nets and caps them), told as it happened,
    for whoever must replay a space's membership in order (the webhooks)."""

    at: int = 0
    arrived: tuple[str, ...] = ()
    departed: tuple[tuple[str, str], ...] = ()
    """`(user, reason)`: "left" or "disconnected"."""


NO_CHURN = Churn()


class SpaceState(msgspec.Struct, frozen=True):
    """Everything a space must not lose across an actor restart.

    `roles` holds everyone present, in order of arrival; it is never changed in place: every change makes
    a new state (a dict copy, cheap next to a join's I/O even with 10,000 people). `on_mic` is the few on
    the mic, kept beside it so that the tick and the rules never scan the audience.

    `seq` is the number of the last event the space emitted: every event is numbered from 1, so a client
    that holds a snapshot at `seq` needs exactly the events after it. Listeners coming and going are not
    one event each (in a space of 10,000 that would be 10,000 messages per arrival): they collect in
    `arrived`/`departed` and are announced together, at most once a second, by `audience_changed`.

    Moderation: `hands` are the listeners asking to speak, in order of asking; `muted` the people on the
    mic who are muted (they stay on the mic, but are not mixer inputs); `removed` those removed by the host
    or a co-host, who cannot join again; `pinned` the ids of pinned posts, the oldest pin first, and
    `pinned_posts` those posts themselves, in the same order (a pinned post may be older than `timeline`).

    Timeline: `timeline` holds only the latest `RECENT_POSTS` posts, oldest first, so that a join costs the
    same with 10 posts or 10,000; `post_count` is how many posts the space has had (the last post's id);
    the rest is in the store.

    Abandonment: `unmoderated_since` is when the last moderator (host or co-host) present left, in ms; None
    while one is present (`domain/abandonment.py` ends the space once this has lasted long enough).

    Speakers: `speaker_policy` says who may raise a hand; `invited` the users the host or a co-host invited
    to speak (present or not), until they accept.

    `description` and `topics` are chosen at creation (or come from the scheduled space it starts).

    Recording: `recording` is the space's current recording, None while it does not record (an ended space
    records nothing, whatever it held).

    Resumes: `log` holds the latest events as they were sent (`replay.py`), for clients that reconnect;
    `gone` the last `MAX_GONE` users whose connection closed and whose place was then let go, so that a
    late `resume` of theirs is told the window passed (and joins anew), while anyone else's is refused.

    `user` strings are server-issued ids, never names (see `Person`); `names` maps the ids of the people
    present, and of the host, to the label clients display.
    """

    space_id: str
    title: str
    host: str
    status: SpaceStatus
    roles: dict[str, Role]
    on_mic: tuple[str, ...]
    timeline: tuple[Post, ...]
    seq: int
    created_at: int
    arrived: tuple[str, ...] = ()
    departed: tuple[str, ...] = ()
    arrived_count: int = 0
    departed_count: int = 0
    hands: tuple[str, ...] = ()
    muted: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    pinned: tuple[int, ...] = ()
    speaker_policy: SpeakerPolicy = SpeakerPolicy.EVERYONE
    invited: tuple[str, ...] = ()
    description: str = ""
    topics: tuple[str, ...] = ()
    names: dict[str, str] = {}
    post_count: int = 0
    pinned_posts: tuple[Post, ...] = ()
    unmoderated_since: int | None = None
    log: EventLog = EventLog()
    gone: tuple[str, ...] = ()
    recording: Recording | None = None

    def role_of(self, user: str) -> Role | None:
        return self.roles.get(user)

    def name_of(self, user: str) -> str:
        return self.names.get(user, user)

    def person(self, user: str) -> Person:
        return Person(user, self.name_of(user))

    @property
    def live_recording(self) -> Recording | None:
        """The recording under way: None while the space does not record, or once it has ended."""
        return self.recording if self.status is SpaceStatus.LIVE else None

    @property
    def on_mic_count(self) -> int:
        return len(self.on_mic)

    @property
    def listener_count(self) -> int:
        return len(self.roles) - len(self.on_mic)
