"""Adapters turn a registry's own export format into the canonical tables.

An adapter has two jobs, both plain functions:
- open(source, **options) -> Bundle: find and check the export (structural failures raise
  BundleError, which rejects the whole export) and say which registry, export id, exported_at
  and mode it is;
- read(con, bundle) -> {table: ReadResult}: create temp tables raw_<table>(_line BIGINT, <the
  contract's columns as VARCHAR>) in the workspace, one row per source record, _line being the
  record's line (or record) number in its source file, with identifiers already left out.
Everything after that (pseudonymisation, validation, quarantine, loading) is shared, so rows from
every format obey the same rules.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple


class Adapter(NamedTuple):
    name: str
    detect: Callable[[Path], bool]
    open: Callable[..., object]
    read: Callable[..., dict]


def _kor() -> Adapter:
    from transforms.adapters import kor

    return Adapter("kor", kor.detect, kor.open, kor.read)


_FACTORIES: dict[str, Callable[[], Adapter]] = {"kor": _kor}


def register(name: str, factory: Callable[[], Adapter]) -> None:
    _FACTORIES[name] = factory


def names() -> list[str]:
    _load_optional()
    return sorted(_FACTORIES)


def get(name: str) -> Adapter:
    _load_optional()
    if name not in _FACTORIES:
        raise KeyError(f"unknown adapter {name!r}; known: {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[name]()


def detect(path: Path) -> str:
    """The adapter whose format `path` is in; kor when nothing else claims it."""
    for name in names():
        if name != "kor" and get(name).detect(Path(path)):
            return name
    return "kor"


def _load_optional() -> None:
    """Adapters in their own modules register themselves when importable."""
    import importlib

    for mod in ("redcap", "fhir"):
        if mod not in _FACTORIES:
            try:
                importlib.import_module(f"transforms.adapters.{mod}")
            except ModuleNotFoundError as e:
                if e.name != f"transforms.adapters.{mod}":
                    raise
