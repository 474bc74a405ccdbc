-- The registry's first rows of {table}: nothing to supersede, every version is current, so the
-- rows go straight to core (one write, no intermediate table).
INSERT INTO core.{table} BY NAME
SELECT o.* EXCLUDE (_line),
       getvariable('registry_id')              AS registry_id,
       getvariable('load_id')::BIGINT          AS load_id,
       getvariable('export_id')                AS export_id,
       getvariable('exported_at')::TIMESTAMPTZ AS exported_at,
       getvariable('loaded_at')::TIMESTAMPTZ   AS loaded_at,
       getvariable('source_file_{table}')      AS source_file,
       o._line                                 AS source_row,
       w.warnings                              AS warnings
FROM out_{table} o LEFT JOIN warn_{table} w USING (_line);
