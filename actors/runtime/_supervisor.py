"""The Supervisor (OTP's supervisor and DynamicSupervisor in one) and `open_supervisor`, which runs it.

A supervisor starts children, restarts them by their spec and its strategy, gives up when restarts
come too fast (escalating to whoever runs it), and stops every child when its block is left.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import trio

from actors.runtime._child import Child, Exit, Incarnation
from actors.runtime._errors import ActorCrashed, RestartIntensityExceeded
from actors.runtime._ref import ActorRef
from actors.runtime._spec import (
    ChildInfo,
    ChildSpec,
    Restart,
    RestartEvent,
    RestartIntensity,
    Strategy,
    SupervisorStatistics,
)

logger = logging.getLogger("actors.runtime")


class Supervisor:
    """Supervises children; get one from `open_supervisor`, which runs it.

    Children may be added and removed at any time (`start_child`, `terminate_child`), as with OTP's
    DynamicSupervisor. Structural changes (start, terminate, restart, shutdown) happen one at a time.
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        strategy: Strategy,
        intensity: RestartIntensity,
        name: str,
        on_restart: Callable[[RestartEvent], None] | None,
        on_give_up: Callable[[str, Exception | None], None] | None = None,
    ) -> None:
        self._nursery = nursery
        self._strategy = strategy
        self._intensity = intensity
        self._name = name
        self._on_restart = on_restart
        self._on_give_up = on_give_up
        self._children: dict[str, Child] = {}  # in start order, which is restart order
        self._lock = trio.Lock()
        # Unbounded on purpose: each incarnation reports its end once and a child has at most one
        # incarnation running, so this holds at most a few reports per child. Reporting must never wait.
        self._exits_send, self._exits_recv = trio.open_memory_channel[Exit](math.inf)
        self._restart_times: deque[float] = deque()
        self._restarts_total = 0
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<Supervisor {self._name!r} {self._strategy.name} children={len(self._children)}>"

    async def start_child(self, spec: ChildSpec) -> ActorRef:
        """Start a child and return its ref once its `on_start` has finished.

        Raises `ValueError` if a child with this id exists, `ActorCrashed` (the cause attached) if the
        actor fails to start (it is then not added), `RuntimeError` once the supervisor is stopping.
        """
        async with self._lock:
            self._check_open()
            if spec.id in self._children:
                raise ValueError(f"supervisor {self._name!r} already has a child {spec.id!r}")
            child = Child(spec)
            self._children[spec.id] = child
            try:
                await self._start(child)
            except BaseException:
                self._remove(child)
                raise
            return child.ref

    async def terminate_child(self, child_id: str) -> None:
        """Stop a child in order (current message, then `on_stop`, within `shutdown_s`, then cancel) and
        remove it. Pending asks get `ActorStopped`. An unknown child id (one that already ended) is a no-op.
        """
        async with self._lock:
            child = self._children.get(child_id)
            if child is not None:
                await self._stop(child)
                self._remove(child)

    def which_children(self) -> list[ChildInfo]:
        return [ChildInfo(c.spec.id, c.restarts, c.ref.alive) for c in self._children.values()]

    def statistics(self) -> SupervisorStatistics:
        return SupervisorStatistics(
            name=self._name,
            strategy=self._strategy,
            children=len(self._children),
            alive=sum(c.ref.alive for c in self._children.values()),
            restarts_total=self._restarts_total,
        )

    def child(self, child_id: str) -> ActorRef | None:
        found = self._children.get(child_id)
        return None if found is None else found.ref

    async def _run(self) -> None:
        """The restart loop's task: handle each incarnation's end, one at a time."""
        async for ended in self._exits_recv:
            async with self._lock:
                await self._on_exit(ended)

    # The restart loop. A child's incarnation reports its end here; starts, terminations and shutdown
    # take the same lock, so the supervisor changes one thing at a time and never acts on stale news.
    #
    # Constraints. A report is stale when the child was removed or already restarted (another
    # incarnation is current), or when the supervisor itself stopped that incarnation (terminate,
    # one-for-all, shutdown); stale reports are dropped. Restart types are OTP's: TEMPORARY never
    # returns, TRANSIENT returns only after a crash, PERMANENT always; a child not restarted is
    # removed and its pending asks answered with ActorStopped. A child with its own budget
    # (`ChildSpec.intensity`) is counted against that budget only: one failing child of many must not
    # take its siblings down.
    #
    # Pipeline. (1) Count the restart in a sliding window of `within_s` seconds: the child's own window
    # if it has a budget, else the supervisor's. One more than `max_restarts` in the child's own window
    # and the child is given up: removed, its pending asks answered, reported to `on_give_up`; nobody
    # else is touched (under ONE_FOR_ALL, siblings already stopped for this restart start again). One
    # more than the supervisor's and the supervisor gives up: it stops every other child in reverse
    # start order (each with its grace period) and raises RestartIntensityExceeded from the crash,
    # which cancels the `async with` body and leaves `open_supervisor`. (2) Under ONE_FOR_ALL, stop the
    # siblings in reverse start order (TEMPORARY ones are removed, not restarted); their mailboxes keep
    # their messages for the next incarnations. (3) Log, count and report the restart. (4) Start the
    # targets in start order; each start waits for `on_start`. A target that fails to start is a new
    # crash of that child: back to (1), so a child that cannot start exhausts its budget.
    #
    # Fast path: under ONE_FOR_ONE nothing but the failed child is touched, and a crashed child's
    # queued messages stay in its mailbox, so its siblings never notice.
    async def _on_exit(self, ended: Exit) -> None:
        child, error = ended.child, ended.error
        current = self._children.get(child.spec.id) is child and child.incarnation is ended.incarnation
        if not current or ended.incarnation.by_supervisor:
            if error is not None:
                logger.warning(
                    "%s: child %r crashed while being stopped or restarted", self._name, child.spec.id, exc_info=error
                )
            return
        if not _wants_restart(child.spec.restart, error):
            if error is not None:
                logger.warning(
                    "%s: %s child %r crashed; not restarted",
                    self._name,
                    child.spec.restart.name,
                    child.spec.id,
                    exc_info=error,
                )
            self._remove(child)
            return
        unstarted: list[Child] = []  # stopped by a ONE_FOR_ALL restart, not started again yet
        while True:
            if await self._count_restart(child, error):
                targets = await self._stop_siblings(child) if self._strategy is Strategy.ONE_FOR_ALL else [child]
                for target in targets:
                    target.restarts += 1
                self._announce(child, error, targets)
            else:
                self._give_up(child, error)
                targets = unstarted
            failed = await self._start_all(targets)
            if failed is None:
                return
            child, error, unstarted = failed

    async def _count_restart(self, child: Child, error: Exception | None) -> bool:
        """Count one restart of `child`: True to restart it, False when it exceeded its own budget.
        Raises RestartIntensityExceeded when it exceeded the supervisor's."""
        now = trio.current_time()
        own = child.spec.intensity
        intensity = self._intensity if own is None else own
        if own is None:
            window = self._restart_times
        else:
            if child.restart_times is None:
                child.restart_times = deque()
            window = child.restart_times
        window.append(now)
        while window and window[0] < now - intensity.within_s:
            window.popleft()
        if len(window) <= intensity.max_restarts:
            return True
        if own is not None:
            return False
        logger.error(
            "%s: more than %d restarts within %s s (last: child %r); giving up",
            self._name,
            intensity.max_restarts,
            intensity.within_s,
            child.spec.id,
            exc_info=error,
        )
        await self._stop_all()
        raise RestartIntensityExceeded(self._name, child.spec.id, intensity.max_restarts, intensity.within_s) from error

    def _give_up(self, child: Child, error: Exception | None) -> None:
        """`child` exceeded its own budget: remove it (its asks answered) and report it; siblings run on."""
        intensity = child.spec.intensity
        assert intensity is not None
        logger.error(
            "%s: child %r restarted more than %d times within %s s; giving it up",
            self._name,
            child.spec.id,
            intensity.max_restarts,
            intensity.within_s,
            exc_info=error,
        )
        self._remove(child)
        if self._on_give_up is not None:
            self._on_give_up(child.spec.id, error)

    async def _stop_siblings(self, child: Child) -> list[Child]:
        """ONE_FOR_ALL: stop every other child, newest first; return those to start again, in order."""
        for sibling in reversed(list(self._children.values())):
            if sibling is not child:
                await self._stop(sibling)
                if sibling.spec.restart is Restart.TEMPORARY:
                    self._remove(sibling)
        return list(self._children.values())

    def _announce(self, child: Child, error: Exception | None, targets: list[Child]) -> None:
        self._restarts_total += 1
        reason = "normal" if error is None else repr(error)
        logger.warning(
            "%s: child %r %s; restarting %s (restart %d of %r)",
            self._name,
            child.spec.id,
            "ended normally" if error is None else f"crashed: {reason}",
            ", ".join(repr(t.spec.id) for t in targets),
            child.restarts,
            child.spec.id,
            exc_info=error,
        )
        if self._on_restart is not None:
            self._on_restart(
                RestartEvent(
                    supervisor=self._name,
                    child_id=child.spec.id,
                    restarts=child.restarts,
                    reason=reason,
                    error_type=None if error is None else type(error).__name__,
                    restarted=tuple(t.spec.id for t in targets),
                )
            )

    async def _start_all(self, targets: list[Child]) -> tuple[Child, Exception, list[Child]] | None:
        """Start each target in order; None, or the first that fails to start, its crash and the targets
        after it (not started)."""
        for i, target in enumerate(targets):
            try:
                await self._start(target)
            except ActorCrashed as failed:
                cause = failed.__cause__
                assert isinstance(cause, Exception)
                return target, cause, targets[i + 1 :]
        return None

    async def _start(self, child: Child) -> None:
        incarnation = Incarnation(child, self._exits_send.send_nowait)
        child.incarnation = incarnation
        child.mailbox.reopen()  # a PERMANENT child whose mailbox was closed comes back with it open
        await self._nursery.start(incarnation.run, name=child.spec.id)  # a string the child has already

    async def _stop(self, child: Child) -> None:
        """An orderly stop: the current message, then `on_stop`, within `shutdown_s`; then cancellation."""
        incarnation = child.incarnation
        if incarnation is None or incarnation.done:
            return
        incarnation.request_stop(by_supervisor=True)
        with trio.move_on_after(child.spec.shutdown_s):
            await incarnation.wait_done()
        if not incarnation.done:
            logger.warning(
                "%s: child %r did not stop within %s s; cancelling it", self._name, child.spec.id, child.spec.shutdown_s
            )
            incarnation.cancel(reason=f"shutdown_s of {child.spec.id!r} elapsed")
            await incarnation.wait_done()

    async def _stop_all(self) -> None:
        """Stop and remove every child, newest first."""
        self._closed = True
        for child in reversed(list(self._children.values())):
            await self._stop(child)
            self._remove(child)

    async def _shutdown(self) -> None:
        """Leaving the block: stop every child in order. No checkpoint when there is nothing to stop,
        so an exception already on its way out (the body's, an escalation) is never masked."""
        self._closed = True
        if self._children:
            async with self._lock:
                await self._stop_all()

    def _abandon(self) -> None:
        """Last resort after the nursery is gone (say, after a cancellation): answer every pending ask."""
        self._closed = True
        for child in list(self._children.values()):
            self._remove(child)

    def _remove(self, child: Child) -> None:
        if self._children.get(child.spec.id) is child:
            del self._children[child.spec.id]
        child.fail_pending()
        child.stashed = None  # refs may outlive the child; its state must not (docs/runtime.md)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"supervisor {self._name!r} is stopping")


def _wants_restart(restart: Restart, error: Exception | None) -> bool:
    if restart is Restart.PERMANENT:
        return True
    return restart is Restart.TRANSIENT and error is not None


@asynccontextmanager
async def open_supervisor(
    children: Sequence[ChildSpec] = (),
    *,
    strategy: Strategy = Strategy.ONE_FOR_ONE,
    intensity: RestartIntensity = RestartIntensity(),  # noqa: B008 (frozen, so sharing it is safe)
    name: str = "supervisor",
    on_restart: Callable[[RestartEvent], None] | None = None,
    on_give_up: Callable[[str, Exception | None], None] | None = None,
) -> AsyncIterator[Supervisor]:
    """Start `children` in order and yield the running Supervisor.

    Resource handling: the children run in a nursery inside this block. Leaving the block stops them
    newest first, each within its `shutdown_s`. If the block is left by cancellation, they are
    cancelled; asks still pending then get `ActorStopped`.

    Error handling: when restarts exceed `intensity`, the supervisor stops the other children, the
    block is cancelled, and `RestartIntensityExceeded` (cause: the last crash) leaves the `async with`.
    A child failing to start here raises `ActorCrashed`. A child with its own budget
    (`ChildSpec.intensity`) that exceeds it is removed instead, and `on_give_up(child_id, error)` is
    called (`error`: its last crash, None if it last ended normally). `on_restart` and `on_give_up` are
    called synchronously from the supervisor and must not raise or block: an exception would take the
    supervisor down; to do slow work, start a task.
    """
    supervisor: Supervisor | None = None
    collapsed: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            supervisor = Supervisor(
                nursery, strategy=strategy, intensity=intensity, name=name, on_restart=on_restart, on_give_up=on_give_up
            )
            nursery.start_soon(supervisor._run, name=f"{name} restart loop")
            try:
                for spec in children:
                    await supervisor.start_child(spec)
                yield supervisor
            finally:
                await supervisor._shutdown()
            nursery.cancel_scope.cancel(reason=f"supervisor {name!r} stopped")
    except BaseExceptionGroup as group:
        # The nursery is ours, not the caller's: a lone exception (an escalation, the body's own
        # error) leaves as itself. Several at once leave as the group.
        if len(group.exceptions) != 1:
            raise
        collapsed = group.exceptions[0]
    finally:
        if supervisor is not None:
            supervisor._abandon()
    if collapsed is not None:
        raise collapsed  # raised outside the handler, so its own __context__ is kept
