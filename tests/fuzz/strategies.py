"""Hypothesis strategies for every client message, read from the protocol's own types (`msgspec.inspect`), so a
new message type or a new constraint is covered without a change here."""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import strategies as st

from gateway import protocol as p

MAX_ITEMS = 4  # collections stay small: the constraints are what matters, not the bulk


def of_type(t: mi.Type) -> st.SearchStrategy[Any]:
    """Values that satisfy `t`, constraints included."""
    if isinstance(t, mi.StructType):
        required = {f.name: of_type(f.type) for f in t.fields if f.required}
        optional = {f.name: of_type(f.type) for f in t.fields if not f.required}
        return st.fixed_dictionaries(required, optional=optional).map(lambda kw: t.cls(**kw))
    if isinstance(t, mi.UnionType):
        return st.one_of([of_type(u) for u in t.types])
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.IntType):
        return st.integers(
            min_value=t.ge if t.ge is not None else -(2**63), max_value=t.le if t.le is not None else 2**63 - 1
        )
    if isinstance(t, mi.StrType):
        text = st.from_regex(t.pattern, fullmatch=True) if t.pattern else st.text(max_size=t.max_length or 40)
        return text.filter(lambda s: (t.min_length or 0) <= len(s) <= (t.max_length or len(s)))
    if isinstance(t, mi.BytesType):
        return st.binary(min_size=t.min_length or 0, max_size=min(t.max_length or 64, 64))
    if isinstance(t, mi.EnumType):
        return st.sampled_from(list(t.cls))
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, (mi.VarTupleType, mi.ListType)):
        items = st.lists(of_type(t.item_type), min_size=t.min_length or 0, max_size=min(t.max_length or 99, MAX_ITEMS))
        return items.map(tuple) if isinstance(t, mi.VarTupleType) else items
    raise NotImplementedError(f"no strategy for {t!r}: add one here")


CLIENT_TYPES: list[mi.StructType] = list(mi.type_info(p.ClientUnion).types)  # type: ignore[attr-defined]


def client_messages(kind: mi.StructType) -> st.SearchStrategy[msgspec.Struct]:
    return of_type(kind)
