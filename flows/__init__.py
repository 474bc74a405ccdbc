"""Prefect flows. Nothing here may phone home: this pipeline runs where only package registries
are reachable, and a registry's pipeline has no business sending telemetry anywhere."""
import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
