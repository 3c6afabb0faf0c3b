"""The engine: scheduler, tenant slots, streams, writer and the run loop."""

from replicator.engine.runner import Engine, RunSummary, build_connections
from replicator.engine.stats import Snapshot

__all__ = ["Engine", "RunSummary", "Snapshot", "build_connections"]
