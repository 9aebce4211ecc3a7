"""SpaceRef: the client API of one space, wrapping its ActorRef (STYLE: a client API over call/cast), and
its AudioIngress for speakers' packets, which never go through the actor's mailbox."""

from __future__ import annotations

from actors.runtime import ActorCrashed, ActorRef, ActorStopped, AskTimeout, MailboxFull
from actors.space import errors
from actors.space.commands import (
    AcceptInvite,
    ApproveRequest,
    CheckAbandoned,
    DenyRequest,
    EndSpace,
    GetSnapshot,
    InviteSpeaker,
    Join,
    Leave,
    LowerHand,
    MemberLink,
    MuteAll,
    MuteSpeaker,
    PinPost,
    RaiseHand,
    React,
    RemoveParticipant,
    Resume,
    SetConsent,
    SetRecording,
    SetRole,
    SetSpeakerPolicy,
    SharePost,
    UnmuteSpeaker,
    UnpinPost,
)
from actors.space.ingress import AudioIngress
from actors.space.recorder import new_recording_id
from actors.space.values import Role, SpaceState, SpeakerPolicy

ASK_TIMEOUT_S = 5.0


class SpaceRef:
    __slots__ = ("_actor", "audio", "space_id")

    def __init__(self, space_id: str, actor: ActorRef, audio: AudioIngress) -> None:
        self.space_id = space_id
        self._actor = actor
        self.audio = audio

    async def join(self, user: str, link: MemberLink, name: str = "") -> SpaceState:
        """Enter the space (or attach a new connection of someone already in it); returns the snapshot.
        `user` is a server-issued id, `name` the label others see."""
        state = await self._ask(Join(user, link, name))
        assert isinstance(state, SpaceState)
        return state

    async def resume(self, user: str, link: MemberLink, last_seq: int, name: str = "") -> SpaceState:
        """Take back `user`'s place on a new connection with the events after `last_seq` (`Resume`)."""
        state = await self._ask(Resume(user, link, last_seq, name))
        assert isinstance(state, SpaceState)
        return state

    async def leave(self, user: str, reason: str = "left", link: MemberLink | None = None) -> None:
        await self._ask(Leave(user, reason, link))

    async def set_role(self, by: str, user: str, role: Role, *, may_speak: bool = True) -> None:
        await self._ask(SetRole(by, user, role, may_speak))

    async def share_post(self, user: str, text: str) -> None:
        await self._ask(SharePost(user, text))

    async def raise_hand(self, user: str, followed_by_host: bool = False) -> None:
        await self._ask(RaiseHand(user, followed_by_host))

    async def lower_hand(self, user: str) -> None:
        await self._ask(LowerHand(user))

    async def approve_request(self, by: str, user: str) -> None:
        await self._ask(ApproveRequest(by, user))

    async def deny_request(self, by: str, user: str) -> None:
        await self._ask(DenyRequest(by, user))

    async def mute(self, by: str, user: str) -> None:
        await self._ask(MuteSpeaker(by, user))

    async def unmute(self, user: str) -> None:
        await self._ask(UnmuteSpeaker(user))

    async def mute_all(self, by: str) -> None:
        await self._ask(MuteAll(by))

    async def remove(self, by: str, user: str) -> None:
        await self._ask(RemoveParticipant(by, user))

    async def pin_post(self, by: str, post_id: int) -> None:
        await self._ask(PinPost(by, post_id))

    async def unpin_post(self, by: str, post_id: int) -> None:
        await self._ask(UnpinPost(by, post_id))

    async def react(self, user: str, emoji: str) -> None:
        await self._ask(React(user, emoji))

    async def set_speaker_policy(self, by: str, policy: SpeakerPolicy) -> None:
        await self._ask(SetSpeakerPolicy(by, policy))

    async def invite_speaker(self, by: str, user: str, name: str = "") -> None:
        await self._ask(InviteSpeaker(by, user, name))

    async def accept_invite(self, user: str) -> None:
        await self._ask(AcceptInvite(user))

    async def set_recording(self, by: str, on: bool) -> None:
        """Turn recording on (a new recording, named here: `r-<hex>`) or off."""
        await self._ask(SetRecording(by, on, new_recording_id() if on else ""))

    async def set_consent(self, user: str, consent: bool) -> None:
        await self._ask(SetConsent(user, consent))

    async def end(self, by: str) -> None:
        await self._ask(EndSpace(by))

    async def snapshot(self) -> SpaceState:
        state = await self._ask(GetSnapshot())
        assert isinstance(state, SpaceState)
        return state

    def push_audio(self, user: str, seq: int, captured_at: int, opus: bytes, level: int | None = None) -> None:
        """Hand one packet to the space's mixer without waiting, and never behind a command: it skips the
        actor's mailbox (see `AudioIngress`). A packet from someone without an input is dropped and
        counted in `audio.stats()`. `level`: the sender's RFC 6464 audio level of it, if given (with it the
        mixer decodes the packet only to mix it with other voices)."""
        self.audio.push(user, seq, captured_at, opus, level)

    def check_abandoned(self, grace_ms: int) -> None:
        """Ask the space, without waiting, to end if it has had no host or co-host for `grace_ms`; a full
        mailbox skips it (the sweeper asks again)."""
        try:
            self._actor.tell_nowait(CheckAbandoned(grace_ms))
        except (MailboxFull, ActorStopped):
            pass

    async def _ask(self, message: object) -> object:
        try:
            return await self._actor.ask(message, timeout=ASK_TIMEOUT_S)
        except ActorStopped as e:
            raise errors.SpaceOver(f"space {self.space_id} has ended") from e
        except ActorCrashed as e:
            raise errors.SpaceUnavailable(f"space {self.space_id} failed on this request; it restarts") from e
        except AskTimeout as e:
            raise errors.SpaceUnavailable(f"space {self.space_id} did not answer in time") from e
