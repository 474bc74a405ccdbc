"""Synthetic registry exports (contract `ketamine-outcomes-export/1`) for tests and benchmarks."""
from .generator import generate_registry
from .params import CohortParams

__all__ = ["generate_registry", "CohortParams"]
