-- An instant as the wall-clock time of its registry's zone (registry_tz), written as if UTC, so
-- dates and months taken from it are the registry's own; registries in UTC are left as they are.
SELECT * REPLACE (
    CASE WHEN getvariable('registry_tz')[registry_id] IS NULL THEN {column}
         ELSE timezone('UTC', timezone(getvariable('registry_tz')[registry_id], {column})) END AS {column})
FROM ({body})
