"""Hold new targets back while the results already fetched wait to be recorded.

The spider's own limit (`QUEUE_AHEAD`) bounds targets between start and result. After
their result the recorder may still hold them: in a pass where pages changed each waits
for its main text, slower than fetching, and every waiting check keeps its outcome,
prepared row and futures (~25 KB each, docs/benchmarks.md). Without a bound, a crawl
process held ~1,500 of them. The wait polls (the recorder counts in another thread, with
no event the reactor could await) and is bounded, so a recorder that stopped making
progress slows a crawl down but never stalls it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

# Setting names: the recorder's count of results not yet recorded (a callable, set on the
# crawler by the application) and the count at which new targets wait.
BACKLOG = "ROTWATCH_BACKLOG"
MAX_BACKLOG = "ROTWATCH_MAX_BACKLOG"
POLL_S = 0.05
# At most this long per target: then it starts anyway (and the next one waits again).
MAX_WAIT_S = 30.0


async def wait_for_room(backlog: Callable[[], int] | None, limit: int, *,
                        poll_s: float = POLL_S, max_wait_s: float = MAX_WAIT_S) -> bool:
    """Return once `backlog()` is below `limit`, or after `max_wait_s`; True if there
    was room (no backlog to watch counts as room)."""
    if backlog is None or limit <= 0:
        return True
    waited = 0.0
    while backlog() >= limit:
        if waited >= max_wait_s:
            return False
        await asyncio.sleep(poll_s)
        waited += poll_s
    return True
