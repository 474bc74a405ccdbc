-- A record table's current versions (core.<table>), of one registry or all.
SELECT * FROM {core_table}
WHERE getvariable('registry') IS NULL OR registry_id = getvariable('registry')
