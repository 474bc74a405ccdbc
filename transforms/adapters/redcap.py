"""The REDCap adapter: a flat CSV export + its data dictionary + a mapping -> the canonical tables.

See redcap_export (what an export is), redcap_mapping (the mapping file), redcap_rows (REDCap's
row model) and docs/adapters.md. Registered as "redcap" when this module is imported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from transforms.adapters import Adapter, register
from transforms.adapters.redcap_dictionary import column_owner, read_dictionary
from transforms.adapters.redcap_export import inside, is_redcap_folder, open_export
from transforms.adapters.redcap_raw import write_raw
from transforms.adapters.redcap_rows import LINE_STRIDE, RowBuilder, read_csv
from transforms.bundle import Bundle
from transforms.pseudonymise import load_key, patient_key
from transforms.read import ReadResult, column_label, shown_name
from transforms.tables import is_identifier_column


@dataclass
class RedcapReadResult(ReadResult):
    """ReadResult plus what REDCap adds: forms not loaded because their status was not accepted,
    and values outside the dictionary's range (each such value also fails its type rule)."""
    incomplete_forms: int = 0
    out_of_range: dict[str, int] = field(default_factory=dict)


# REDCap's own columns that identify a person: the survey participant identifier (an e-mail or a
# name the project set up), never read but reported as an identifier column when dropped
IDENTIFYING_STRUCTURAL = {"redcap_survey_identifier"}


def detect(path: Path) -> bool:
    return is_redcap_folder(Path(path))


def open(source, **options) -> Bundle:  # noqa: A001 - the adapter protocol's name
    return open_export(source, **options)


def _record_key(registry: str):
    key = load_key()
    cache: dict[str, str] = {}

    def f(record: str) -> str:
        if record not in cache:
            cache[record] = patient_key(key, registry, record)[:20]
        return cache[record]
    return f


def read(con, bundle: Bundle) -> dict[str, ReadResult]:
    mapping = bundle.mapping  # type: ignore[attr-defined]
    dict_path = bundle.dictionary_path  # type: ignore[attr-defined]
    label = bundle.export_id
    dictionary = read_dictionary(dict_path, label) if dict_path else None
    record_key = _record_key(bundle.registry_id)
    files = {}
    results: dict[str, RedcapReadResult] = {}
    rows: dict[str, list[dict]] = {}
    used: dict[str, set[str]] = {}
    for s in mapping.sources:
        if s.file not in files:
            files[s.file] = read_csv(inside(Path(bundle.root), s.file, label), label, s.file)
        data = files[s.file]
        builder = RowBuilder(s, data, dictionary, mapping, record_key, label)
        extra = sum(1 for t in mapping.sources[: s.index] if t.table == s.table)
        rows.setdefault(s.table, []).extend(builder.rows(extra * LINE_STRIDE))
        used.setdefault(s.file, set()).update(builder.read_columns())
        r = results.setdefault(s.table, RedcapReadResult(table=s.table, file=s.file, rows=0, malformed=0))
        r.incomplete_forms += builder.stats.incomplete
        for k, v in builder.stats.out_of_range.items():
            r.out_of_range[k] = r.out_of_range.get(k, 0) + v
    structural = {"redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                  "redcap_data_access_group", mapping.record_id or (dictionary.record_id if dictionary else "")}
    reported: set[str] = set()
    for table, r in results.items():
        r.rows = write_raw(con, table, rows[table])
        data = files[r.file]
        if r.file in reported:  # a file's unused columns are said once, under its first table
            continue
        reported.add(r.file)
        unused = [c for c in data.header if c not in used.get(r.file, set()) and c not in structural]
        # a header cell may be a value (a person's name): told by its position unless a plain name
        unused = sorted(c for c in unused if shown_name(c)) + [c for c in unused if not shown_name(c)]
        r.dropped_columns = [column_label(c, data.index[c] + 1) for c in unused]
        r.identifier_columns = [column_label(c, data.index[c] + 1) for c in unused if c in IDENTIFYING_STRUCTURAL
                                or is_identifier_column(c) or (dictionary is not None and (
                                    f := column_owner(c, dictionary)) is not None and f.identifying)]
    return results


register("redcap", lambda: Adapter("redcap", detect, open, read))
