-- This export's rows of {table} in {rows} (out_<t>: the valid ones; park_<t>: those waiting for
-- their parent), with lineage: the versions this load brings. A view: a first load streams it
-- straight into core, later loads read it a few times (small).
CREATE OR REPLACE TEMP VIEW {view} AS
SELECT o.* EXCLUDE (_line),
       getvariable('registry_id')              AS registry_id,
       getvariable('load_id')::BIGINT          AS load_id,
       getvariable('export_id')                AS export_id,
       getvariable('exported_at')::TIMESTAMPTZ AS exported_at,
       getvariable('loaded_at')::TIMESTAMPTZ   AS loaded_at,
       getvariable('source_file_{table}')      AS source_file,
       o._line                                 AS source_row,
       w.warnings                              AS warnings
FROM {rows} o LEFT JOIN warn_{table} w USING (_line);
