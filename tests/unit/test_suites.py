"""The suite files are what runs; the catalogue is what people edit. They must agree, and every
expectation must say its rule, Kahn category and severity."""
import json

from expectations.catalogue import BUILDERS, SUITE_DIR, suite_json

KAHN = {"completeness", "conformance.value", "conformance.relational", "conformance.computational",
        "plausibility.atemporal", "plausibility.temporal", "plausibility.uniqueness"}


def test_suite_files_match_the_catalogue():
    for table in BUILDERS:
        on_disk = json.loads((SUITE_DIR / f"{table}.json").read_text())
        assert on_disk == json.loads(json.dumps(suite_json(table))), (
            f"{table}.json is stale: run python -m expectations.catalogue --write")


def test_every_expectation_is_tagged():
    for table in BUILDERS:
        for e in json.loads((SUITE_DIR / f"{table}.json").read_text())["expectations"]:
            meta = e["meta"]
            assert meta["rule"].startswith(f"{table}.")
            assert meta["kahn"] in KAHN
            assert meta["severity"] in {"error", "warning", "alert"}
            assert meta["description"]


def test_suites_use_no_row_condition_that_gx_2_removes():
    """String row conditions with a condition_parser are deprecated since GX 1.9 (gone in 2.0):
    the suites hold Condition objects, so loading and copying them (as the runner does for every
    validation) raises no deprecation warning."""
    import warnings

    import great_expectations  # noqa: F401  (its own imports raise unrelated deprecation warnings)
    from expectations.runner import load_suite

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for table in BUILDERS:
            for e in load_suite(table).expectations:
                e.copy()
