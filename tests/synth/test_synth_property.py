"""For any seed and small size: manifests match files, and the files parse."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth import generate_registry
from synth.schema import COLUMNS
from synth_checks import injected, manifests


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), patients=st.integers(1, 25), months=st.integers(1, 3),
       fmt=st.sampled_from(["csv", "csv.gz", "parquet"]), bad=st.sampled_from([0.0, 0.0, 0.3]))
def test_manifest_matches_files(seed, patients, months, fmt, bad):
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        folders = generate_registry(out, "prop", patients, seed=seed, months=months, file_format=fmt, bad_rows=bad)
        assert len(folders) == months == len(manifests(out))
        log = injected(out)
        if not bad:
            assert not log
        for m in manifests(out):
            for f in m["files"]:
                path = m["_folder"] / f["path"]
                assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
                if fmt == "parquet":
                    t = pq.read_table(path)
                    assert t.num_rows == f["rows"] and t.column_names == list(COLUMNS[f["table"]])
                    continue
                malformed = sum(1 for (e, tb, _), r in log.items()
                                if e == m["export_id"] and tb == f["table"] and r.endswith("malformed"))
                rel = duckdb.sql(f"select * from read_csv('{path}', all_varchar=true, header=true, "
                                 f"strict_mode=false, ignore_errors=true, null_padding=false)")
                assert rel.columns == list(COLUMNS[f["table"]]) or f["rows"] == 0
                if not malformed:
                    assert len(rel.fetchall()) == f["rows"]
