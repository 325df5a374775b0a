"""Which shared location a `shared_dir` names: a directory (the default) or an object store.

The object-storage modules are imported only for a URL, so a coordinator or node without
the `object-storage` extra never needs fsspec.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rotwatch.cluster.shared_store import NodeOutput, Options, SharedStore, is_url


def open_shared(shared_dir: str, options: Iterable[tuple[str, Any]] = (), *,
                staging: Path | None = None) -> SharedStore:
    """The coordinator's store; an object store is checked for reach and write access
    here, so a wrong URL or an unreachable store stops a check before it starts."""
    if not is_url(shared_dir):
        from rotwatch.cluster.shared_local import LocalShared

        return LocalShared(Path(shared_dir))
    from rotwatch.cluster.shared_object import ObjectShared

    if staging is None:
        raise ValueError("an object store needs a local staging directory")
    return ObjectShared.connect(shared_dir, dict(options), staging)


def node_output(shard: str, attempt: int, options: Options | None = None) -> NodeOutput:
    if not is_url(shard):
        from rotwatch.cluster.shared_local import LocalNodeOutput

        return LocalNodeOutput(Path(shard), attempt)
    from rotwatch.cluster.node_upload import ObjectNodeOutput

    return ObjectNodeOutput(shard, attempt, options or {})
