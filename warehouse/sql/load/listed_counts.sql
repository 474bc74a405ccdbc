-- What became of an incremental export's listed deletions of {table} (withdraw_listed.sql), for the
-- load's report: withdrawn now, withdrawn again (already gone), kept (a version newer than this
-- export, or a record another resource type made under that id), never in the warehouse.
SELECT (SELECT count(*) FROM listed_{table})                                  AS listed,
       (SELECT count(*) FILTER (WHERE was_current) FROM gone_{table})         AS withdrawn,
       (SELECT count(*) FILTER (WHERE NOT was_current) FROM gone_{table})     AS withdrawn_again,
       (SELECT count(*) FROM listed_{table} k
        WHERE NOT EXISTS (SELECT 1 FROM core.{table} c WHERE c.registry_id = getvariable('registry_id') AND {key_match_c})
          AND NOT EXISTS (SELECT 1 FROM history.{table} c WHERE c.registry_id = getvariable('registry_id') AND {key_match_c})
       )                                                                      AS unknown;
