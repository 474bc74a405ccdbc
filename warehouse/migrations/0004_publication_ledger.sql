-- 0004: the publication ledger of `outcomes report`. Every recorded report gets one row in
-- ops.publications and, in ops.published_counts, every count it showed (and every complement
-- n - k of a shown cell), keyed by its suppression cell: a key that is the same in every report
-- month (cumulative rows carry 'cumulative', a month row its own month). A later report hides any
-- count that differs by 1 to 10 from a value published before for the same key and a related
-- scope, since anyone holding both reports could subtract them (export contract section 5).
CREATE TABLE ops.publications (
    report_id    BIGINT PRIMARY KEY,
    month        VARCHAR NOT NULL,     -- the report month, YYYY-MM
    scope        VARCHAR NOT NULL,     -- 'all' (registries pooled) or a registry id
    as_of_load   BIGINT,               -- --as-of, NULL for the current state
    last_load_id BIGINT,               -- the last load the report includes
    generated_at TIMESTAMPTZ NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    figures      INTEGER NOT NULL,     -- rows of its figures.csv
    suppressed   INTEGER NOT NULL,     -- of which suppressed
    html         VARCHAR,              -- where it was written
    code_version VARCHAR
);
CREATE TABLE ops.published_counts (
    report_id  BIGINT NOT NULL,        -- ops.publications.report_id
    scope      VARCHAR NOT NULL,       -- as in ops.publications, repeated for the comparison
    cell       VARCHAR NOT NULL,       -- the suppression cell's key, as a JSON array
    count_name VARCHAR NOT NULL,       -- the count's name in the cell ('patients', 'events', ...) or 'n-k'
    value      BIGINT NOT NULL
);
