-- What became of an incremental export's listed deletions of {table} (withdraw_listed.sql), for the
-- load's report: withdrawn now, withdrawn again (already gone), kept (a version newer than this
-- export, or a record another resource type made under that id), never in the warehouse (its
-- withdrawal written all the same, withdraw_listed.sql: run after it and retire.sql). A
-- companion (a record the deleted resource made only if it was of a kind: a combined PHQ-9 + GAD-7
-- response's GAD-7) counts only when the warehouse has it.
WITH k AS (  -- companions only: every other listed record counts whether the warehouse had it or not
    SELECT EXISTS (SELECT 1 FROM core.{table} c WHERE c.registry_id = getvariable('registry_id') AND {key_match_c})
        OR EXISTS (SELECT 1 FROM history.{table} c WHERE c.registry_id = getvariable('registry_id') AND {key_match_c})
           AS known
    FROM listed_{table} k WHERE k.companion
)
SELECT (SELECT count(*) FILTER (WHERE NOT companion) FROM listed_{table})
       + (SELECT count(*) FILTER (WHERE known) FROM k)                                 AS listed,
       (SELECT count(*) FILTER (WHERE was_current) FROM gone_{table})                  AS withdrawn,
       (SELECT count(*) FILTER (WHERE NOT was_current AND NOT unseen) FROM gone_{table}) AS withdrawn_again,
       (SELECT count(*) FILTER (WHERE unseen) FROM gone_{table})                       AS unknown;
