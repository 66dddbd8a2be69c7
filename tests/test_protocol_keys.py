"""The protocol's duplicate-key scan (pump.protocol._duplicate_key, written for MicroPython's
json, which has no object_pairs_hook) against CPython's json with one, on random JSON texts:
nested objects and arrays, escaped keys, strings holding quotes, braces and commas."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pump import protocol


class _Obj(list):  # type: ignore[type-arg]
    """An object as its (key, value) pairs: repeated keys stay repeated."""


_KEYS = st.sampled_from(["id", "cmd", "args", "a", 'q"', "{,}", "\\", "é", "x y", ""])
_SCALARS = st.none() | st.booleans() | st.integers(-5, 5) | _KEYS


def _pairs(children: st.SearchStrategy[object]) -> st.SearchStrategy[_Obj]:
    return st.lists(st.tuples(_KEYS, children), max_size=4).map(_Obj)


_VALUES = st.recursive(
    _SCALARS, lambda children: st.lists(children, max_size=3) | _pairs(children), max_leaves=12
)


def _dump(v: object, escape: bool) -> str:
    if isinstance(v, _Obj):
        return "{" + ", ".join(f"{_dump(k, escape)}: {_dump(x, escape)}" for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_dump(x, escape) for x in v) + "]"
    return json.dumps(v, ensure_ascii=escape)


@settings(max_examples=250, deadline=None)
@given(_pairs(_VALUES), st.booleans())
def test_the_scan_finds_a_duplicate_key_exactly_when_json_has_one(obj: _Obj, escape: bool) -> None:
    text = _dump(obj, escape).encode()
    dups: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in items]
        dups.extend(k for i, k in enumerate(keys) if k in keys[:i])
        return dict(items)

    json.loads(text, object_pairs_hook=pairs)
    dup = protocol._duplicate_key(text)
    assert (dup is None) == (not dups), (text, dup, dups)
    assert dup is None or dup in dups
