"""The deployments of ``prefect.yaml``, as Python objects that ``tipstats serve`` can serve.

``prefect.yaml`` is the one place where names and schedules are written; serving from one
process reads it rather than repeating the schedules here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from tipstats.home import Home, project_root


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    entrypoint: str
    description: str
    crons: tuple[str, ...] = ()
    intervals: tuple[timedelta, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)


def prefect_yaml_path() -> Path:
    return project_root() / "prefect.yaml"


def load_specs(path: Path | None = None) -> list[DeploymentSpec]:
    document = yaml.safe_load((path or prefect_yaml_path()).read_text(encoding="utf-8"))
    specs = []
    for entry in document.get("deployments", []):
        schedules = entry.get("schedules") or []
        specs.append(
            DeploymentSpec(
                name=entry["name"],
                entrypoint=entry["entrypoint"],
                description=entry.get("description", ""),
                crons=tuple(s["cron"] for s in schedules if "cron" in s),
                intervals=tuple(
                    timedelta(seconds=float(s["interval"])) for s in schedules if "interval" in s
                ),
                parameters=dict(entry.get("parameters") or {}),
            )
        )
    return specs


def load_flow(spec: DeploymentSpec):
    from prefect.flows import load_flow_from_entrypoint

    file_part, _, flow_name = spec.entrypoint.partition(":")
    return load_flow_from_entrypoint(f"{project_root() / file_part}:{flow_name}")


def runner_deployments(home: Home, path: Path | None = None) -> list:
    """One RunnerDeployment per spec, bound to this home, with the schedules of prefect.yaml."""
    deployments = []
    for spec in load_specs(path):
        flow = load_flow(spec)
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                description=spec.description,
                cron=list(spec.crons) or None,
                interval=list(spec.intervals) or None,
                parameters={**spec.parameters, "home": str(home.root)},
            )
        )
    return deployments


def serve_all(home: Home) -> None:
    from prefect import serve

    serve(*runner_deployments(home))
