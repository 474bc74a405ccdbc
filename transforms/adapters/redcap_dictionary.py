"""A REDCap data dictionary (metadata export), read once so every value can be typed by it.

REDCap gives the dictionary in two layouts with the same 18 columns in the same order: the
Designer's download ("Variable / Field Name", "Form Name", ...) and the API's metadata export
(field_name, form_name, ...). Columns are therefore read by position, not by header text; R's
writers put "NA" in empty API cells, which is read as empty.

What the adapter needs from it: the record id (the first field, whatever its name), which form
each field belongs to (checkbox options `field___code` included), each field's validation type
(dates in REDCap's formats, numbers) and text_validation_min/max, and the Identifier? flag, so that
a field the project itself marks as identifying can never be mapped into the warehouse.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from transforms.bundle import BundleError

# REDCap validation types that only an identifier has.
IDENTIFYING_VALIDATION = re.compile(r"^(email|phone\w*|ssn|zipcode|postalcode\w*|mrn\w*|vmrn)$")

# Positions in both layouts.
NAME, FORM, TYPE, CHOICES, VALIDATION, VMIN, VMAX, IDENTIFIER = 0, 1, 3, 5, 7, 8, 9, 10


@dataclass(frozen=True)
class Field:
    name: str
    form: str
    type: str  # text, notes, radio, dropdown, checkbox, yesno, truefalse, calc, file, slider, descriptive...
    validation: str  # date_ymd, date_mdy, datetime_dmy, integer, number, number_1dp, ... or ''
    vmin: str
    vmax: str
    identifier: bool
    choices: tuple[str, ...] = ()  # option codes in dictionary order

    @property
    def kind(self) -> str:
        """date | datetime | number | text: how a value of this field is normalised and checked."""
        v = self.validation
        if v.startswith("datetime"):
            return "datetime"
        if v.startswith("date"):
            return "date"
        if v in ("integer", "number") or v.startswith("number_"):
            return "number"
        return "text"

    @property
    def identifying(self) -> bool:
        """Flagged Identifier?, or validated as what only an identifier is (an e-mail, phone, SSN, ZIP or
        postal code, MRN): many projects never tick the flag on such fields."""
        return self.identifier or bool(IDENTIFYING_VALIDATION.match(self.validation))

    @property
    def date_order(self) -> str | None:
        """YMD, MDY or DMY as declared by the validation type (date_mdy -> MDY)."""
        m = re.search(r"_(ymd|mdy|dmy)$", self.validation)
        return m.group(1).upper() if m else None


@dataclass
class Dictionary:
    fields: dict[str, Field]  # in dictionary order
    forms: list[str] = field(default_factory=list)

    @property
    def record_id(self) -> str:
        return next(iter(self.fields))

    def form_fields(self, form: str) -> list[Field]:
        return [f for f in self.fields.values() if f.form == form]


def checkbox_column(field_name: str, code: str) -> str:
    """The export column of one checkbox option: lower-cased, non [a-z0-9_] as '_' (-2 -> ____2)."""
    return f"{field_name}___" + re.sub(r"[^a-z0-9_]", "_", code.strip().lower())


def _codes(choices: str) -> tuple[str, ...]:
    out = []
    for part in choices.split("|"):
        if "," in part:
            out.append(part.split(",", 1)[0].strip())
    return tuple(out)


def read_dictionary(path: Path, export: str = "?") -> Dictionary:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise BundleError("redcap.dictionary", f"data dictionary cannot be read ({type(e).__name__})", export,
                          path.name) from None
    if len(rows) < 2 or len(rows[0]) < 11:
        raise BundleError("redcap.dictionary", "data dictionary has no fields or fewer than 11 columns", export,
                          path.name)

    def cell(row: list[str], i: int) -> str:
        v = row[i].strip() if i < len(row) else ""
        return "" if v == "NA" else v

    fields: dict[str, Field] = {}
    forms: list[str] = []
    for row in rows[1:]:
        name = cell(row, NAME).lower()
        if not name:
            continue
        form = cell(row, FORM)
        if form not in forms:
            forms.append(form)
        fields[name] = Field(
            name=name, form=form, type=cell(row, TYPE).lower(), validation=cell(row, VALIDATION).lower(),
            vmin=cell(row, VMIN), vmax=cell(row, VMAX), identifier=cell(row, IDENTIFIER).lower() == "y",
            choices=_codes(cell(row, CHOICES)) if cell(row, TYPE).lower() == "checkbox" else (),
        )
    if not fields:
        raise BundleError("redcap.dictionary", "data dictionary lists no fields", export, path.name)
    return Dictionary(fields, forms)


def column_owner(column: str, dictionary: Dictionary) -> Field | None:
    """The dictionary field an export column belongs to (a checkbox option column included)."""
    if column in dictionary.fields:
        return dictionary.fields[column]
    if "___" in column:
        base = column.split("___", 1)[0]
        f = dictionary.fields.get(base)
        if f is not None and f.type == "checkbox":
            return f
    return None
