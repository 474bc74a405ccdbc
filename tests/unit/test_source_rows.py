"""source_row of CSV rows, good and malformed alike, is the record line: header = 1, the n-th record
after the header is n + 1; blank lines are not counted and a quoted newline does not start a line.
Checked against the file as built (which item is which record), whatever mix of blank lines,
quoted newlines, malformed lines, CRLF, BOM and gzip it has."""
from __future__ import annotations

import csv
import gzip
import hashlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exports import ADVERSE_EVENTS
from transforms.bundle import BundleError, ExportFile
from transforms.read import read_table
from transforms.workspace import open_workspace

HEADER = list(ADVERSE_EVENTS[0])


def _line(fields: list[str], newline: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerow(fields)
    return buf.getvalue()


def _record(i: int, kind: str, newline: str, quoted_newlines: int) -> str:
    """One record: ae_id E<i>; 'good' has the header's field count, 'few'/'many' do not; the term
    holds quoted_newlines newlines (two make a blank line inside a quoted field). 'space' is a line
    of i + 1 spaces: no blank line but a record of one field. 'badquote' has the field count but
    text after a closing quote, which DuckDB's strict mode rejects (the csv module keeps it)."""
    if kind == "space":
        return " " * (i + 1) + newline
    fields = [ADVERSE_EVENTS[0][h] for h in HEADER]
    fields[0] = f"E{i}"
    if quoted_newlines:
        fields[HEADER.index("term")] = "felt" + newline * quoted_newlines + "detached"
    if kind == "badquote":
        fields[HEADER.index("term")] = "TERM"
        return _line(fields, newline).replace("TERM", '"felt' + newline * quoted_newlines + '"detached')
    if kind == "few":
        fields = fields[:HEADER.index("term") + 1]
    elif kind == "many":
        fields = fields + ["extra", "x"]
    return _line(fields, newline)


def _build(items: list[tuple[str, int]], newline: str, bom: bool, leading_blank_after_header: int,
           trailing_blanks: int, final_newline: bool = True):
    """The file's text and the expected record line of each record: {ae_id: (line, good?)}."""
    text = _line(HEADER, newline) + newline * leading_blank_after_header
    expected: dict[str, tuple[int, bool]] = {}
    line = 1
    for i, (kind, qnl) in enumerate(items):
        if kind == "blank":
            text += newline
            continue
        line += 1
        text += _record(i, kind, newline, qnl)
        expected[" " * (i + 1) if kind == "space" else f"E{i}"] = (line, kind == "good")
    text += newline * trailing_blanks
    if not final_newline and text.endswith(newline) and expected:
        text = text[:-len(newline)]
    data = text.encode()
    return (b"\xef\xbb\xbf" + data if bom else data), expected


def _read(tmp_path, data: bytes, rows: int, gz: bool = False):
    name = "adverse_events.csv" + (".gz" if gz else "")
    if gz:
        data = gzip.compress(data, mtime=0)
    path = tmp_path / name
    path.write_bytes(data)
    f = ExportFile("adverse_events", path, name, hashlib.sha256(data).hexdigest(), rows, "csv")
    ws = open_workspace()
    return ws, read_table(ws, f, "2025-01-31T23-00-00Z")


def _numbers(ws, r):
    good = dict(ws.execute("SELECT ae_id, _line FROM raw_adverse_events").fetchall())
    bad = {}
    if r.malformed_table:
        for line, values in ws.execute(f'SELECT _line, "values" FROM {r.malformed_table}').fetchall():
            bad[values["ae_id"]] = line
    return good, bad


def _check(ws, r, expected):
    good, bad = _numbers(ws, r)
    assert good == {k: v[0] for k, v in expected.items() if v[1]}
    assert bad == {k: v[0] for k, v in expected.items() if not v[1]}
    assert r.malformed == len(bad)


def _independent(data: bytes) -> dict[str, tuple[int, bool]]:
    """The same expectation from the csv module: every non-blank record after the header counts."""
    out, line = {}, 1
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    next(reader)
    for row in reader:
        if row:
            line += 1
            out[row[0]] = (line, len(row) == len(HEADER))
    return out


def test_reviewers_case_blank_lines_and_malformed_records(tmp_path):
    """Blank lines at physical lines 6, 32 and 33, malformed records 21 and 24 (physical 22 and 25):
    the good record 22 (physical line 23) was numbered 21, like a malformed one."""
    items: list[tuple[str, int]] = []
    physical = 1
    record = 1
    while record < 36:
        physical += 1
        if physical in (6, 32, 33):
            items.append(("blank", 0))
            continue
        record += 1
        items.append(("few" if record in (21, 24) else "good", 0))
    data, expected = _build(items, "\n", False, 0, 0)
    assert data.decode().split("\n")[21].startswith("E") and data.decode().split("\n")[5] == ""
    ws, r = _read(tmp_path, data, rows=len(expected))
    good, bad = _numbers(ws, r)
    assert sorted(bad.values()) == [21, 24]
    assert sorted(good.values()) == [n for n in range(2, 37) if n not in (21, 24)]
    _check(ws, r, expected)


ITEM = st.tuples(st.sampled_from(["good"] * 4 + ["blank"] * 2 + ["few", "many", "space", "badquote"]),
                 st.sampled_from([0, 0, 1, 2]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(items=st.lists(ITEM, min_size=1, max_size=30), newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans(),
       gz=st.booleans(), after_header=st.integers(0, 2), trailing=st.integers(0, 2), final_newline=st.booleans())
def test_source_rows_match_record_lines(tmp_path_factory, items, newline, bom, gz, after_header, trailing,
                                        final_newline):
    data, expected = _build(items, newline, bom, after_header, trailing, final_newline)
    # the construction agrees with the csv module on every record's line (and, but for the
    # quoting DuckDB is stricter about, on which are malformed)
    independent = _independent(data)
    assert {k: v[0] for k, v in independent.items()} == {k: v[0] for k, v in expected.items()}
    kinds = {(" " * (i + 1) if kind == "space" else f"E{i}"): kind for i, (kind, _) in enumerate(items)}
    assert all(independent[k][1] == v[1] for k, v in expected.items() if kinds[k] != "badquote")
    if not expected:
        return
    ws, r = _read(tmp_path_factory.mktemp("rows"), data, rows=len(expected), gz=gz)
    _check(ws, r, expected)


def test_blank_line_before_the_header_is_structural(tmp_path):
    data, expected = _build([("good", 0), ("few", 0)], "\n", False, 0, 0)
    with pytest.raises(BundleError) as e:
        _read(tmp_path, b"\n" + data, rows=len(expected))
    assert e.value.rule == "bundle.header" and "adverse_events.csv" in str(e.value)


def test_unclosed_quote_names_the_line_it_opens_on(tmp_path):
    """An unclosed quote swallows the lines after it: the record count differs from the manifest,
    and the error says where the quoted field opens and how many lines it runs over, no value."""
    items = [("good", 0)] * 12
    data, expected = _build(items, "\n", False, 0, 0)
    lines = data.decode().split("\n")
    lines[7] = lines[7].replace(",felt detached,", ',"felt detached,')  # line 8 opens a quote; never closed
    with pytest.raises(BundleError) as e:
        _read(tmp_path, "\n".join(lines).encode(), rows=len(expected))
    msg = str(e.value)
    assert e.value.rule == "bundle.rows" and "adverse_events.csv" in msg and "2025-01-31T23-00-00Z" in msg
    assert "a quoted field opened on line 8 of the file runs over 6 lines (an unclosed quote?)" in msg
    assert "felt" not in msg and "E7" not in msg and "Dissociation" not in msg


def test_unclosed_quote_after_a_legit_multiline_field(tmp_path):
    items = [("good", 0), ("good", 1)] + [("good", 0)] * 10
    data, expected = _build(items, "\n", False, 1, 0)
    lines = data.decode().split("\n")
    # header, blank, E0, E1 (lines 4-5, a quoted newline), E2 on line 6 ...; E5 on line 9 opens a quote
    assert lines[8].startswith("E5,")
    lines[8] = lines[8].replace(",felt detached,", ',"felt detached,')
    lines[11] = lines[11].replace(",felt detached,", ',felt detached",')  # closes it on line 12
    with pytest.raises(BundleError) as e:
        _read(tmp_path, "\n".join(lines).encode(), rows=len(expected))
    msg = str(e.value)
    assert ("2 records have a quoted field that runs over lines: the first opens on line 4 of the file and runs over 2 lines, "
            "the longest opens on line 9 and runs over 4 lines (an unclosed quote?)") in msg
    assert "felt" not in msg and "E5" not in msg


def test_count_mismatch_without_a_spanning_field_says_nothing_more(tmp_path):
    data, expected = _build([("good", 0)] * 3, "\n", False, 0, 0)
    with pytest.raises(BundleError) as e:
        _read(tmp_path, data, rows=5)
    assert str(e.value).endswith("file holds 3 records, manifest says 5 [rule bundle.rows]")
    # more records than the manifest says: a quoted newline is no sign of an unclosed quote
    data, expected = _build([("good", 1)] * 3, "\n", False, 0, 0)
    with pytest.raises(BundleError) as e:
        _read(tmp_path, data, rows=2)
    assert str(e.value).endswith("file holds 3 records, manifest says 2 [rule bundle.rows]")


def test_unclosed_quote_in_a_gzip_file_with_crlf_and_bom(tmp_path):
    data, expected = _build([("good", 0)] * 6, "\r\n", True, 0, 0)
    data = data.replace(b",felt detached,", b',"felt detached,', 1)  # E0 on line 2, never closed
    with pytest.raises(BundleError) as e:
        _read(tmp_path, data, rows=len(expected), gz=True)
    assert "a quoted field opened on line 2 of the file runs over 6 lines (an unclosed quote?)" in str(e.value)


@pytest.mark.parametrize("data, blank", [
    (b"h\n1\n2\n", False), (b"h\r\n1\r\n", False), (b"h\n1\n\n", False), (b"h\r\n1\r\n\r\n\r\n", False),
    (b"h\n\n1\n", True), (b"h\r\n\r\n1\r\n", True), (b"h\r\r1\r", True), (b"h\n1\n\n\n2", True),
])
def test_blank_line_search_across_gzip_chunks(tmp_path, monkeypatch, data, blank):
    """A gzip file is searched a chunk at a time: a blank line (or the content after it) that
    straddles a chunk's end is still found. Content after the blank line is what matters."""
    import gzip as gz_module

    from transforms.read import _may_have_blank_line

    (tmp_path / "p.csv").write_bytes(data)
    (tmp_path / "p.csv.gz").write_bytes(gzip.compress(data))
    assert _may_have_blank_line(ExportFile("t", tmp_path / "p.csv", "p.csv", "", 0, "csv")) is blank
    read = gz_module.GzipFile.read
    for size in (1, 2, 3):
        monkeypatch.setattr(gz_module.GzipFile, "read", lambda self, n=-1, _s=size: read(self, _s))
        assert _may_have_blank_line(ExportFile("t", tmp_path / "p.csv.gz", "p.csv.gz", "", 0, "csv")) is blank
