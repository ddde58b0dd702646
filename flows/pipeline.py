"""Flow ``pipeline``: ingest_inbox -> build_warehouse -> publish, with a final summary."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows.build_warehouse import build_warehouse
from flows.ingest_inbox import ingest_inbox
from flows.publish import publish
from tipstats.pipeline_steps import PipelineSummary


@flow(name="pipeline", log_prints=False)
def pipeline(home: str | None = None, threshold: int = 5) -> PipelineSummary:
    """The whole run: new submissions in, marts rebuilt, exports out."""
    ingest = ingest_inbox(home)
    build = build_warehouse(home)
    export = publish(home, threshold)
    summary = PipelineSummary(ingest=ingest, build=build, export=export)
    create_markdown_artifact(
        markdown=summary.markdown(),
        key="pipeline-summary",
        description="What this pipeline run did",
    )
    return summary
