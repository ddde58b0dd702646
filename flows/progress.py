"""A progress channel from running tasks to whoever watches the run (the CLI's live display).

Flows run in the caller's process, so a plain callable is enough; with no watcher, events are
dropped. Events are small dicts: ``{"stage": "ingest", "event": "file_done", ...}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ProgressSink = Callable[[dict[str, Any]], None]

_sinks: list[ProgressSink] = []


def watch(sink: ProgressSink) -> None:
    _sinks.append(sink)


def unwatch(sink: ProgressSink) -> None:
    if sink in _sinks:
        _sinks.remove(sink)


def emit(stage: str, event: str, **details: Any) -> None:
    for sink in list(_sinks):
        sink({"stage": stage, "event": event, **details})
