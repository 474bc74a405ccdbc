"""REDCap's row model -> canonical rows, one mapping source at a time.

A flat export has one row per record x event x (repeating instrument, instance); a non-repeating
form's data sit on the row whose redcap_repeat_instrument is blank. So a source's rows are the
rows of its form: the rows tagged with the form (its repeating instances), and untagged rows of
the wanted events on which the form holds data (a form may repeat in one event and not another).
A form whose `<form>_complete` status is not accepted is not loaded and is counted as incomplete;
a form with no data on a row is simply absent there.

Only the mapped columns are computed, so nothing else of the row (names, e-mails, notes) is ever
copied. The record id is the patient id; anywhere else it appears as the record's keyed hash, so
session and assessment ids built from it ("{record}-{event}") do not carry the raw id into the
warehouse.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from transforms.adapters.redcap_dictionary import Dictionary, Field, checkbox_column, column_owner
from transforms.adapters.redcap_mapping import IDENTIFIER_OK, TEMPLATE_RE, TOKENS, Mapping, Source, Spec
from transforms.adapters.redcap_values import as_integer, typed
from transforms.bundle import BundleError
from transforms.tables import TABLES, is_identifier_column

LINE_STRIDE = 1_000_000_000  # _line of a table's k-th extra source: k * LINE_STRIDE + CSV line
STRUCTURAL = {"redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
              "redcap_data_access_group", "redcap_survey_identifier"}


@dataclass
class CsvFile:
    header: list[str]  # normalised (lower-case, stripped)
    rows: list[tuple[int, list[str]]]  # (line, values); header = line 1, one line per record
    index: dict[str, int] = field(default_factory=dict)

    def get(self, values: list[str], column: str) -> str:
        i = self.index.get(column)
        return values[i] if i is not None and i < len(values) else ""


def read_csv(path: Path, export: str, relpath: str) -> CsvFile:
    """Records as text, each with its record line as the kor reader numbers the same bytes
    (transforms/read.py): header = line 1, one line per record however many newlines its quoted
    values hold, and a blank line is no record and is not counted. A record whose fields are all
    blank (a line of commas or spaces) is counted but not kept: it holds nothing to load."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                raise BundleError("bundle.header", "file has no header line", export, relpath)
            rows = []
            line = 1
            for r in reader:
                if not r:  # a blank line (the csv module gives [] for it and only for it)
                    continue
                line += 1
                if not any(c.strip() for c in r):
                    continue
                if len(r) != len(header):
                    # REDCap writes every row in full: a short or long one is a cut-off download or
                    # an edit gone wrong, whose values would land in the wrong columns or not at all
                    raise BundleError("bundle.malformed", f"the record ending on line {reader.line_num} has "
                                      f"{len(r)} fields, the header {len(header)}", export, relpath)
                rows.append((line, r))
    except (UnicodeDecodeError, csv.Error) as e:
        raise BundleError("bundle.unreadable", f"CSV cannot be read ({type(e).__name__})", export, relpath) from None
    names = [h.strip().lower() for h in header]
    if len(set(names)) != len(names):
        raise BundleError("bundle.header", "a column appears twice in the header", export, relpath)
    return CsvFile(names, rows, {n: i for i, n in enumerate(names)})


@dataclass
class SourceStats:
    rows: int = 0
    incomplete: int = 0
    out_of_range: dict[str, int] = field(default_factory=dict)


class RowBuilder:
    """Builds one source's canonical rows from one CSV file."""

    def __init__(self, source: Source, data: CsvFile, dictionary: Dictionary | None, mapping: Mapping,
                 record_key, export: str):
        self.s, self.data, self.d, self.m, self.export = source, data, dictionary, mapping, export
        self.record_key = record_key  # callable: raw record id -> keyed hash
        self.record_col = mapping.record_id or (dictionary.record_id if dictionary and source.form else None)
        if not source.form:
            # A plain CSV names its patient in its own column (Synthea: Id in patients.csv, PATIENT
            # elsewhere): the one field patient_id is made of. Keyed in every other column, as the
            # record id is: an id template such as "{patient}-{date}" kept the raw id otherwise.
            feeds = source.columns.get("patient_id")
            fields = feeds.referenced() if feeds and not feeds.value else []
            if len(fields) == 1:
                self.record_col = fields[0]
        if self.record_col and self.record_col not in data.index:
            raise BundleError("redcap.record_id", f"record id field {self.record_col!r} is not the export's "
                              "column (REDCap exports the record id only when asked: request it)", export, source.file)
        self.stats = SourceStats()
        self._codes: dict[str, list[tuple[str, str]]] = {}
        self._check_mapping()
        self.form_columns = self._form_columns() if source.form else []

    # -- checks done once -------------------------------------------------------------------
    def _field(self, name: str) -> Field | None:
        return column_owner(name, self.d) if self.d else None

    def _check_mapping(self) -> None:
        s = self.s
        if s.form and self.d and s.form not in self.d.forms:
            raise BundleError("redcap.mapping", f"{s.label}: the dictionary has no form {s.form!r}", self.export)
        for column in s.where:
            if column.lower() not in self.data.index:
                raise BundleError("redcap.mapping", f"{s.label}: where names {column!r}, not a column of {s.file}",
                                  self.export)
        for col, spec in s.columns.items():
            names = spec.referenced()
            for name in names:
                if name not in self.data.index and not (spec.checkbox == name and self._checkbox_columns(name)):
                    raise BundleError("redcap.mapping", f"{s.label} column {col}: field {name!r} is not in "
                                      f"{s.file}", self.export)
                f = self._field(name)
                flagged = (f is not None and f.identifying) or is_identifier_column(name)
                if flagged and col not in IDENTIFIER_OK and name != self.record_col:
                    raise BundleError("redcap.identifier", f"{s.label} column {col}: field {name!r} is an "
                                      "identifier and may feed only patient_id, birth_date, birth_year or zip",
                                      self.export)
            if spec.checked is not None:
                column = checkbox_column(spec.fields[0], spec.checked)
                if column not in self.data.index:
                    raise BundleError("redcap.mapping", f"{s.label} column {col}: checkbox column {column!r} "
                                      f"is not in {s.file}", self.export)
            if spec.template:
                for token in TEMPLATE_RE.findall(spec.template):
                    t = token.lower()
                    if t not in TOKENS and t not in self.data.index:
                        raise BundleError("redcap.mapping", f"{s.label} column {col}: template names "
                                          f"{token!r}, neither a token nor a column", self.export)

    def read_columns(self) -> set[str]:
        """The export columns this source reads (so not dropped): its fields, a checkbox field's
        option columns, the form's status and, behind {timestamp}, its survey timestamp, and the
        columns its `where` selects on."""
        s, out = self.s, set()
        for spec in s.columns.values():
            for name in spec.referenced():
                out.update(self._checkbox_columns(name) if name == spec.checkbox else [name])
            if s.form and spec.template and any(t.lower() == "timestamp" for t in TEMPLATE_RE.findall(spec.template)):
                out.add(f"{s.form}_timestamp")
        if s.form:  # its status decides whether the form loads (Completion)
            out.add(f"{s.form}_complete")
        out.update(c.lower() for c in s.where)
        return out

    def _checkbox_columns(self, name: str) -> list[str]:
        return [c for c in self.data.header if c.startswith(name + "___")]

    def _checkbox_codes(self, name: str) -> list[tuple[str, str]]:
        """(export column, option code) of a checkbox field: the code as the dictionary spells it
        (A, -2), since the column name lower-cases it and replaces other characters (___a, ____2)."""
        if name not in self._codes:
            f = self.d.fields.get(name) if self.d else None
            by_column = {checkbox_column(name, code): code for code in (f.choices if f else ())}
            self._codes[name] = [(c, by_column.get(c, c[len(name) + 3:])) for c in self._checkbox_columns(name)]
        return self._codes[name]

    def _form_columns(self) -> list[tuple[int, bool]]:
        """(column index, is a checkbox option) of the form's data fields present in the export."""
        out = []
        for i, c in enumerate(self.data.header):
            if c in STRUCTURAL or c == self.record_col or c.endswith(("_complete", "_timestamp")):
                continue
            f = column_owner(c, self.d)
            if f is not None and f.form == self.s.form:
                out.append((i, f.type == "checkbox"))
        return out

    # -- row selection ------------------------------------------------------------------------
    def _selected(self, values: list[str]) -> bool:
        s, get = self.s, self.data.get
        for col, wanted in s.where.items():
            if get(values, col.lower()) not in wanted:
                return False
        if s.events and get(values, "redcap_event_name") not in s.events:
            return False
        if not s.form:
            return True
        # The form's rows: those tagged with it (its repeating instances) and untagged rows holding
        # its data. A longitudinal project may make a form repeat in one event and not in another,
        # so a form that repeats somewhere still has untagged rows elsewhere.
        if get(values, "redcap_repeat_instrument") not in ("", s.form):
            return False
        status = get(values, f"{s.form}_complete").strip()
        has_data = status in ("1", "2") or any(
            (values[i].strip() == "1") if box else bool(values[i].strip())
            for i, box in self.form_columns if i < len(values))
        if not has_data:
            return False
        if f"{s.form}_complete" in self.data.index and status not in self.m.accept_status:
            self.stats.incomplete += 1
            return False
        return True

    # -- values -----------------------------------------------------------------------------
    def _value(self, values: list[str], name: str, col: str) -> str:
        raw = self.data.get(values, name)
        if name == self.record_col and col != "patient_id":
            return self.record_key(raw.strip()) if raw.strip() else ""
        v, bad = typed(raw, self._field(name), self.m.date_order)
        if bad:
            self.stats.out_of_range[name] = self.stats.out_of_range.get(name, 0) + 1
        return v

    def _token(self, values: list[str], token: str, line: int, col: str) -> str:
        get = self.data.get
        t = token.lower()
        if t == "record":
            rec = get(values, self.record_col).strip() if self.record_col else ""
            return rec if col == "patient_id" else (self.record_key(rec) if rec else "")
        if t == "record_key":
            rec = get(values, self.record_col).strip() if self.record_col else ""
            return self.record_key(rec) if rec else ""
        if t == "event":
            return get(values, "redcap_event_name")
        if t == "arm":
            ev = get(values, "redcap_event_name")
            return ev.rsplit("_arm_", 1)[1] if "_arm_" in ev else "1"
        if t == "instance":
            return get(values, "redcap_repeat_instance") or "1"
        if t == "form":
            return self.s.form or ""
        if t == "dag":
            return get(values, "redcap_data_access_group")
        if t == "timestamp":
            return self._value(values, f"{self.s.form}_timestamp", col) if self.s.form else ""
        if t == "line":
            return str(line)
        return self._value(values, t, col)

    def _eval(self, spec: Spec, values: list[str], line: int, col: str) -> str:
        if spec.value is not None:
            out = spec.value
        elif spec.template is not None:
            parts = {t: self._token(values, t, line, col) for t in TEMPLATE_RE.findall(spec.template)}
            # a template over a blank field is blank (an optional link such as a session number)
            out = "" if any(not v for t, v in parts.items() if t.lower() not in TOKENS) else \
                TEMPLATE_RE.sub(lambda m: parts[m.group(1)], spec.template)
        elif spec.items or spec.sum:
            parts = [self._value(values, n, col) for n in (spec.items or spec.sum)]
            if any(not p for p in parts):
                out = ""
            elif spec.items:
                out = ";".join(as_integer(p) for p in parts)
            else:
                try:
                    out = as_integer(str(sum(float(p) for p in parts)))
                except ValueError:
                    out = ";".join(parts)  # not numbers: left as text to fail the type rule visibly
        elif spec.checkbox:
            # map keys: the dictionary's code (A, -2), or as the column spells it (a)
            ticked = [(c, code) for c, code in self._checkbox_codes(spec.checkbox)
                      if self.data.get(values, c).strip() == "1"]
            out = ";".join(spec.recode.get(code, spec.recode.get(c[len(spec.checkbox) + 3:], code))
                           for c, code in ticked)
            return out or (spec.default or "")
        elif spec.checked is not None:
            out = self.data.get(values, checkbox_column(spec.fields[0], spec.checked)).strip()
        else:
            out = next((v for v in (self._value(values, n, col) for n in spec.fields) if v), "")
        if spec.recode and out in spec.recode:
            out = spec.recode[out]
        if not out and spec.default is not None:
            out = spec.default
        if spec.as_type == "integer" and out:
            out = as_integer(out)
        return out

    def rows(self, line_offset: int = 0) -> list[dict]:
        table = TABLES[self.s.table]
        out = []
        for line, values in self.data.rows:
            if not self._selected(values):
                continue
            row = {c: None for c in table.column_names}
            for col, spec in self.s.columns.items():
                row[col] = self._eval(spec, values, line, col) or None
            if self.s.table == "patients" and not self.s.columns.get("site_id") and \
                    "redcap_data_access_group" in self.data.index:
                row["site_id"] = self.data.get(values, "redcap_data_access_group") or None
            row["_line"] = line_offset + line
            out.append(reduce_identifying(row))
        self.stats.rows = len(out)
        return out


def reduce_identifying(row: dict) -> dict:
    """Birth dates become birth years and ZIP codes their first 3 digits before anything is kept:
    a quarantined row keeps its values as they arrived, so this cannot wait for staging."""
    if "birth_date" in row and row["birth_date"]:
        bd = row["birth_date"].strip()
        year = bd[:4]
        row["birth_year"] = row.get("birth_year") or (year if year.isdigit() and len(bd) >= 8 else "invalid date")
        row["birth_date"] = None
    if row.get("zip"):
        # a US ZIP's first 3 digits (patients.zip.format's shape); another value (a 4-digit ZIP whose
        # 0 was lost) has no prefix to keep: a marker that breaks that warning, zip3 stored NULL
        z = row["zip"].strip()
        row["zip"] = z[:3] if re.fullmatch(r"[0-9]{3}(?:[0-9]{2}(?:-[0-9]{4})?)?", z) else ("not a ZIP" if z else None)
    return row
