"""Prefect flows. Nothing here may phone home: this pipeline runs where only package registries
are reachable, and a registry's pipeline has no business sending telemetry anywhere."""
import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The temporary API server a command starts when PREFECT_API_URL is unset gets 20 s by default; on
# a busy 2-core host (a test run beside a report) it took longer, and every ingest failed.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
