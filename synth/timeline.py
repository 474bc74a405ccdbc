"""The export series: one export per calendar month, and which export first carries a record.

Export k is taken on the last day of month k+1 (counting the start's month as month 1) at
23:00Z. The first export is `full`, the ones in between `incremental`, and the last one `full`
again so that the series also exercises withdrawals (see generator.generate_registry).
All times are UTC seconds or days since 1970-01-01; nothing here reads the clock.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np

DAY = 86_400
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Export:
    index: int
    export_id: str          # folder name, e.g. 2025-01-31T23-00-00Z
    exported_at: datetime   # aware, UTC
    mode: str               # "full" | "incremental"

    @property
    def exported_at_iso(self) -> str:
        return self.exported_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def seconds(self) -> int:
        return int(self.exported_at.timestamp())


def day_number(d: date) -> int:
    return (d - EPOCH).days


def from_day_number(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


class Timeline:
    """Exports of one registry and the mapping from event times to exports."""

    def __init__(self, start: date, months: int):
        if months < 1:
            raise ValueError("months must be >= 1")
        self.start = start
        exports = []
        y, m = start.year, start.month
        for k in range(months):
            last = calendar.monthrange(y, m)[1]
            at = datetime(y, m, last, 23, 0, 0, tzinfo=timezone.utc)
            mode = "full" if k in (0, months - 1) else "incremental"
            exports.append(Export(k, at.strftime("%Y-%m-%dT%H-%M-%SZ"), at, mode))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        self.exports: list[Export] = exports
        self.cuts = np.array([e.seconds for e in exports], dtype=np.int64)
        self.start_day = day_number(start)
        self.horizon_s = int(self.cuts[-1])
        self.horizon_day = self.horizon_s // DAY

    def __len__(self) -> int:
        return len(self.exports)

    def first_export(self, seconds: np.ndarray) -> np.ndarray:
        """Index of the first export taken at or after each time; len(self) = not yet exported."""
        return np.searchsorted(self.cuts, np.asarray(seconds, dtype=np.int64), side="left").astype(np.int16)
