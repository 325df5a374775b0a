"""A target's fetch state is replaced, never changed: `hops.update` gives what
`dataclasses.replace` gives, and the request carries the new state."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from scrapy import Request

from core.records import DueTarget, Hop
from crawler.fetch.hops import TARGET_FETCH, TargetFetch, fetch_of, update


def test_update_is_replace_and_leaves_the_old_state_alone() -> None:
    state = TargetFetch(DueTarget(1, "k", "http://127.0.0.2/a", "127.0.0.2", "now"))
    request = Request("http://127.0.0.2/a", meta={TARGET_FETCH: state})
    changes: list[dict[str, Any]] = [
        {"sent": 2.5}, {"hops": (Hop("http://127.0.0.2/a", 301, "/b"),)},
        {"spent": 1.0, "sent": None}, {}]
    for change in changes:
        before = fetch_of(request)
        assert before is not None
        new = update(request, before, **change)
        assert new == replace(before, **change) and fetch_of(request) is new
        assert new is not before and type(new) is TargetFetch
    assert state == TargetFetch(state.target)  # the first state is unchanged
    with pytest.raises(TypeError, match="no field"):
        update(request, state, snet=1.0)
    with pytest.raises(AttributeError):
        new.sent = 3.0  # type: ignore[misc]  # still frozen
