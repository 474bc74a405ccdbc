"""The native contract: manifest.json plus one CSV / CSV.gz / Parquet file per table."""
from __future__ import annotations

from pathlib import Path

from transforms.bundle import Bundle, open_bundle
from transforms.read import ReadResult, read_table


def detect(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or (path / "manifest.json").is_file()


def open(source, **_options) -> Bundle:  # noqa: A001 - the adapter protocol's name
    return open_bundle(source)


def read(con, bundle: Bundle) -> dict[str, ReadResult]:
    return {f.table: read_table(con, f, bundle.export_id) for f in bundle.files}
