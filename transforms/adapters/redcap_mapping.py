"""The mapping file (TOML, one per REDCap project): which forms and fields feed which canonical columns.

A project's field names are its own, so the adapter holds no knowledge of them: the mapping says,
per canonical table, which form (instrument) its rows come from and how each contract column is
made. Only mapped columns are ever produced, so names, e-mails and the like in the export have no
way into the warehouse. The format is documented in docs/adapters.md; in short:

    [redcap]
    accept_status = [2]            # form statuses loaded (0 incomplete, 1 unverified, 2 complete)

    [[source]]
    table = "vitals"
    form = "blood_pressure"        # rows: that form's rows (repeating instances included)
    events = ["visit_1_arm_1"]     # optional filter on redcap_event_name
    [source.columns]
    session_id = "{record}-{event}-{instance}"   # a template over tokens and fields
    timepoint = { value = "pre" }                # a constant
    sbp = "bp_systolic"                          # a field

Column specs are checked here, once, so a mistake in the file rejects the export with a message
naming the source and column rather than failing on some row.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from transforms.adapters.redcap_dictionary import checkbox_column
from transforms.bundle import BundleError
from transforms.tables import TABLES

TOKENS = {"record", "record_key", "event", "arm", "instance", "form", "dag", "timestamp", "line"}
TEMPLATE_RE = re.compile(r"\{([A-Za-z0-9_\-]+)\}")
SPEC_KEYS = {"field", "value", "template", "map", "default", "items", "sum", "checkbox", "checked", "as"}
# Columns an identifier-flagged field may feed: each is hashed or reduced before anything is kept.
IDENTIFIER_OK = {"patient_id", "birth_date", "birth_year", "zip"}


@dataclass(frozen=True)
class Spec:
    """How one canonical column is made. Exactly one of field/value/template/items/sum/checkbox."""
    fields: tuple[str, ...] = ()  # field: first non-blank of these
    value: str | None = None
    template: str | None = None
    items: tuple[str, ...] = ()  # ';'-joined when every item is present
    sum: tuple[str, ...] = ()  # sum when every item is present
    checkbox: str | None = None  # the checked options of a checkbox field, ';'-joined
    checked: str | None = None  # with field: that option's 1/0
    recode: dict[str, str] = field(default_factory=dict)
    default: str | None = None
    as_type: str | None = None  # integer: "3.0" -> "3"

    def referenced(self) -> list[str]:
        """Field names this spec reads (template tokens excluded)."""
        if self.checked is not None:
            return [checkbox_column(self.fields[0], self.checked)]
        names = list(self.fields) + list(self.items) + list(self.sum)
        if self.checkbox:
            names.append(self.checkbox)
        if self.template:
            names += [n.lower() for n in TEMPLATE_RE.findall(self.template) if n.lower() not in TOKENS]
        return names


@dataclass
class Source:
    table: str
    form: str | None
    file: str
    events: tuple[str, ...]
    where: dict[str, tuple[str, ...]]
    columns: dict[str, Spec]
    index: int  # position in the mapping file, for messages

    @property
    def label(self) -> str:
        return f"source {self.index + 1} ({self.table}" + (f", form {self.form})" if self.form else ")")


@dataclass
class Mapping:
    sources: list[Source]
    accept_status: tuple[str, ...] = ("2",)
    date_order: str = "YMD"
    record_id: str | None = None
    registry_id: str | None = None
    path: str = ""
    sha256: str = ""

    def tables(self) -> list[str]:
        return list(dict.fromkeys(s.table for s in self.sources))


def _err(message: str, export: str, path: str) -> BundleError:
    return BundleError("redcap.mapping", message, export, Path(path).name)


def _strs(value, what: str, export: str, path: str) -> tuple[str, ...]:
    if isinstance(value, (str, int)):
        return (str(value),)
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return tuple(str(v) for v in value)
    raise _err(f"{what} must be a string or a list of strings", export, path)


def _spec(raw, where: str, export: str, path: str) -> Spec:
    if isinstance(raw, str):
        if TEMPLATE_RE.search(raw):
            return Spec(template=raw)
        return Spec(fields=(raw.strip().lower(),))
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Spec(value=str(raw))
    if not isinstance(raw, dict):
        raise _err(f"{where}: a column is a field name, a template or a table", export, path)
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise _err(f"{where}: unknown key(s) {', '.join(sorted(unknown))}", export, path)
    kinds = [k for k in ("field", "value", "template", "items", "sum", "checkbox") if k in raw]
    if len(kinds) != 1:
        raise _err(f"{where}: give exactly one of field, value, template, items, sum, checkbox", export, path)
    recode = raw.get("map", {})
    if not isinstance(recode, dict):
        raise _err(f"{where}: map must be a table of code = value", export, path)
    as_type = raw.get("as")
    if as_type not in (None, "integer"):
        raise _err(f"{where}: as must be \"integer\"", export, path)
    if "checked" in raw and "field" not in raw:
        raise _err(f"{where}: checked needs field (the checkbox field)", export, path)
    lower = lambda seq: tuple(s.strip().lower() for s in seq)  # noqa: E731
    return Spec(
        fields=lower(_strs(raw["field"], where, export, path)) if "field" in raw else (),
        value=str(raw["value"]) if "value" in raw else None,
        template=str(raw["template"]) if "template" in raw else None,
        items=lower(_strs(raw["items"], where, export, path)) if "items" in raw else (),
        sum=lower(_strs(raw["sum"], where, export, path)) if "sum" in raw else (),
        checkbox=str(raw["checkbox"]).strip().lower() if "checkbox" in raw else None,
        checked=str(raw["checked"]) if "checked" in raw else None,
        recode={str(k): str(v) for k, v in recode.items()},
        default=str(raw["default"]) if "default" in raw else None,
        as_type=as_type,
    )


def read_mapping(path: str | Path, export: str = "?") -> Mapping:
    import hashlib

    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
        doc = tomllib.loads(raw_bytes.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise _err(f"mapping cannot be read ({type(e).__name__})", export, str(path)) from None
    except tomllib.TOMLDecodeError as e:
        raise _err(f"mapping is not valid TOML ({e})", export, str(path)) from None
    settings = doc.get("redcap", {})
    if not isinstance(settings, dict):
        raise _err("[redcap] must be a table", export, str(path))
    sources = []
    raw_sources = doc.get("source", [])
    if not isinstance(raw_sources, list) or not raw_sources:
        raise _err("mapping has no [[source]] entries", export, str(path))
    for i, s in enumerate(raw_sources):
        where = f"source {i + 1}"
        table = s.get("table")
        if table not in TABLES:
            raise _err(f"{where}: table must be one of {', '.join(TABLES)}, not {table!r}", export, str(path))
        cols = s.get("columns")
        if not isinstance(cols, dict) or not cols:
            raise _err(f"{where}: no [source.columns]", export, str(path))
        allowed = set(TABLES[table].column_names)
        specs = {}
        for col, raw in cols.items():
            if col not in allowed:
                raise _err(f"{where}: {table} has no column {col!r}", export, str(path))
            specs[col] = _spec(raw, f"{where} column {col}", export, str(path))
        missing = [c.name for c in TABLES[table].columns if c.required and c.name not in specs]
        if missing:
            raise _err(f"{where}: required column(s) {', '.join(missing)} not mapped", export, str(path))
        where_filter = s.get("where", {})
        if not isinstance(where_filter, dict):
            raise _err(f"{where}: where must be a table of column = value(s)", export, str(path))
        sources.append(Source(
            table=table,
            form=str(s["form"]) if s.get("form") else None,
            file=str(s.get("file", "data.csv")),
            events=_strs(s["events"], f"{where} events", export, str(path)) if "events" in s else (),
            where={str(k): _strs(v, f"{where} where", export, str(path)) for k, v in where_filter.items()},
            columns=specs,
            index=i,
        ))
    order = str(settings.get("date_order", "YMD")).upper()
    if order not in ("YMD", "MDY", "DMY"):
        raise _err("date_order must be YMD, MDY or DMY", export, str(path))
    return Mapping(
        sources=sources,
        accept_status=_strs(settings.get("accept_status", [2]), "accept_status", export, str(path)),
        date_order=order,
        record_id=str(settings["record_id"]).lower() if settings.get("record_id") else None,
        registry_id=settings.get("registry_id"),
        path=str(path),
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
    )
