"""Where the fixed cost of one pipeline run goes: timestamps and CPU of its phases.

Runs what ``tipstats run --home HOME`` runs (without the live display), marking wall and CPU
seconds since start at each phase; the server's CPU is the children's total at the end. With
``--prefect-starts-server``, the run leaves Prefect to start its temporary server itself when the
first flow asks for a client (how ``tipstats run`` worked before ``flows.temporary_server``):

    PREFECT_HOME=/tmp/hD/prefect_trace .venv/bin/python bench/trace_prefect_run.py /tmp/hD/empty
    PREFECT_HOME=/tmp/hD/prefect_trace .venv/bin/python bench/trace_prefect_run.py /tmp/hD/empty \\
        --prefect-starts-server
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

START = time.perf_counter()
MARKS: list[tuple[str, float, float]] = []


def mark(name: str) -> None:
    MARKS.append((name, time.perf_counter() - START, time.process_time()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home")
    parser.add_argument("--prefect-starts-server", action="store_true")
    args = parser.parse_args()
    import tipstats.cli  # noqa: F401  (what every tipstats command imports first)

    mark("tipstats.cli imported")
    from flows.settings import configure_prefect
    from flows.temporary_server import TemporaryServer, start_unless_configured
    from tipstats.home import resolve_home

    home = resolve_home(args.home).ensure()
    configure_prefect(home)
    server = None if args.prefect_starts_server else start_unless_configured()
    mark("server started" if server else "configured")
    from flows.pipeline import pipeline
    from flows.settings import local_run_settings

    mark("flows imported")
    if server is not None:
        wait = TemporaryServer.wait_until_ready

        def timed_wait(self: TemporaryServer) -> None:
            mark("Prefect's engine modules imported; waiting for the server")
            wait(self)
            mark("server ready")

        TemporaryServer.wait_until_ready = timed_wait  # type: ignore[method-assign]
    else:
        from prefect.server.api import server as prefect_server

        mark("Prefect's server package imported by the client")
        start = prefect_server.SubprocessASGIServer.start

        def timed_start(self: prefect_server.SubprocessASGIServer, timeout: int | None = None):
            if self.running:
                return start(self, timeout)
            mark("server started by Prefect")
            start(self, timeout)
            mark("server ready")

        prefect_server.SubprocessASGIServer.start = timed_start  # type: ignore[method-assign]
    with local_run_settings(server):
        pipeline(home=str(home.root), threshold=5)
        mark("pipeline returned")
    if server is None:
        # What Prefect does at exit, done here so that the server's CPU is all counted below.
        from prefect.events.worker import EventsWorker
        from prefect.server.api.server import SubprocessASGIServer

        EventsWorker.drain_all(timeout=10)
        SubprocessASGIServer().stop()
    mark("server stopped")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    for name, wall, cpu in MARKS:
        print(f"{wall:7.2f} s wall {cpu:6.2f} s CPU  {name}")
    print(f"CPU of the server (children): {children.ru_utime + children.ru_stime:.2f} s")
    print(f"client imported Prefect's server package: {'prefect.server.api.server' in sys.modules}")


if __name__ == "__main__":
    main()
