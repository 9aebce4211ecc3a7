"""Registry: a plain name -> ActorRef table, owned by whoever creates it (no global state).

Entries are not removed when a child ends: the owner unregisters what it registered.
"""

from __future__ import annotations

from actors.runtime._ref import ActorRef


class Registry:
    """Find actors by name. A name is held by one ref at a time."""

    def __init__(self) -> None:
        self._refs: dict[str, ActorRef] = {}

    def register(self, name: str, ref: ActorRef) -> None:
        """Raises `ValueError` if `name` is taken."""
        if name in self._refs:
            raise ValueError(f"the name {name!r} is already registered")
        self._refs[name] = ref

    def unregister(self, name: str) -> None:
        """Forget `name`; a name that is not registered is a no-op (as in OTP's Registry)."""
        self._refs.pop(name, None)

    def lookup(self, name: str) -> ActorRef | None:
        return self._refs.get(name)

    def names(self) -> list[str]:
        return list(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def __contains__(self, name: object) -> bool:
        return name in self._refs
