-- raw_assessments -> stg_assessments. Item scores are split and summed here (QIDS-SR16 by its
-- domain maxima, clinical-reference 1.2) so the suite can compare them with the total.
CREATE OR REPLACE TEMP TABLE stg_assessments AS
WITH typed AS (
    SELECT r._line,
           txt(r.assessment_id)                       AS assessment_id,
           k.patient_key,
           txt(r.session_id)                          AS session_id,
           as_ts(r.assessed_at)                       AS assessed_at,
           r.assessed_at AS assessed_at__raw,
           upper(txt(r.instrument))                   AS instrument,
           as_int(r.total_score)                      AS total_score,
           r.total_score AS total_score__raw,
           txt(r.item_scores)                         AS item_scores,
           as_int(r.minutes_after_dose)               AS minutes_after_dose,
           r.minutes_after_dose AS minutes_after_dose__raw
    FROM raw_assessments r
    LEFT JOIN pk_map k ON k.patient_id = txt(r.patient_id)
),
items AS (
    SELECT t.*,
           -- whole numbers only: DuckDB's cast takes '1.5' (as 2), '1e2', '0x10' and '1_000'; a
           -- character outside digits, signs, spaces and ';' makes the list hold a NULL (invalid)
           CASE WHEN t.item_scores IS NULL THEN NULL
                WHEN regexp_matches(t.item_scores, '[^0-9; +-]') THEN [NULL::INTEGER]
                ELSE list_transform(string_split(t.item_scores, ';'), x -> TRY_CAST(trim(x) AS INTEGER)) END AS _items,
           -- blank items, counted only where an item did not parse (rare: no second split otherwise)
           CASE WHEN t.item_scores IS NOT NULL AND (t.item_scores LIKE '%;;%' OR t.item_scores LIKE ';%'
                                                    OR t.item_scores LIKE '%;' OR t.item_scores LIKE '% %')
                THEN len(list_filter(string_split(t.item_scores, ';'), x -> trim(x) = '')) ELSE 0 END AS _blank_items,
           -- items the instrument has (clinical-reference 1.1); NULL: any number
           CASE t.instrument WHEN 'PHQ9' THEN 9 WHEN 'GAD7' THEN 7 WHEN 'MADRS' THEN 10 WHEN 'QIDS_SR16' THEN 16
                             WHEN 'HAMD17' THEN 17 WHEN 'CADSS' THEN 23 END AS _n_items
    FROM typed t
)
SELECT i.* EXCLUDE (_items, _blank_items, _n_items, assessed_at__raw, total_score__raw, minutes_after_dose__raw),
       unparsed(i.assessed_at__raw, i.assessed_at) AS assessed_at__unparsed,
       unparsed(i.total_score__raw, i.total_score) AS total_score__unparsed,
       unparsed(i.minutes_after_dose__raw, i.minutes_after_dose) AS minutes_after_dose__unparsed,
       -- a list with blank items (an item not answered) or fewer items than the instrument has is
       -- incomplete: kept, flagged, its sum not checked (the contract checks the sum "when
       -- complete"); quarantining it would also hide a positive PHQ-9 item 9 (clinical-reference 9 S4)
       CASE WHEN i._items IS NULL THEN NULL
            WHEN list_count(i._items) + i._blank_items <> len(i._items) THEN false   -- a non-integer item
            ELSE len(i._items) <= coalesce(i._n_items, len(i._items))
                 AND coalesce(list_min(i._items) >= 0, true)
                 AND CASE WHEN i.instrument = 'HAMD17'  -- items 4-6, 12-14, 16, 17 are 0-2 (clinical-reference 1.2)
                          THEN list_bool_and(list_transform(list_zip(i._items, [4, 4, 4, 2, 2, 2, 4, 4, 4, 4, 4, 2, 2, 2, 4, 2, 2]),
                                                            p -> coalesce(p[1] <= p[2], true)))
                          ELSE coalesce(list_max(i._items) <= CASE i.instrument WHEN 'MADRS' THEN 6 WHEN 'CADSS' THEN 4
                                                       WHEN 'MOAAS' THEN 5 WHEN 'CSSRS_IDEATION' THEN 5 ELSE 3 END, true)
                     END
       END                                                              AS _items_valid,
       CASE WHEN i._items IS NULL OR list_count(i._items) <> len(i._items) OR NOT _items_valid THEN false
            ELSE len(i._items) = coalesce(i._n_items, len(i._items))
       END                                                              AS _items_complete,
       CASE WHEN i._items IS NULL OR list_count(i._items) <> len(i._items) THEN NULL
            WHEN i.instrument = 'QIDS_SR16' AND len(i._items) = 16 THEN
                 list_max(i._items[1:4])::BIGINT + i._items[5] + list_max(i._items[6:9]) + i._items[10]
                 + i._items[11] + i._items[12] + i._items[13] + i._items[14] + list_max(i._items[15:16])  -- BIGINT: no overflow
            ELSE list_sum(i._items)
       END                                                              AS _item_sum,
       CASE WHEN i.instrument = 'PHQ9' AND len(i._items) = 9 THEN i._items[9] END AS _item9,
       day_of(i.assessed_at)                                             AS _assessed_on,
       getvariable('exported_at')::TIMESTAMPTZ::DATE                     AS _export_date,
       (p.patient_key IS NOT NULL)                                       AS _patient_exists,
       CASE WHEN i.session_id IS NULL THEN NULL ELSE s.session_id IS NOT NULL END AS _session_exists,
       CASE WHEN i.assessment_id IS NOT NULL THEN coalesce(dup._n, 1) END AS _key_count
FROM items i
LEFT JOIN ctx_patients p ON p.patient_key = i.patient_key
LEFT JOIN ctx_sessions s ON s.session_id = i.session_id
-- duplicate keys: dup_assessments (staging/duplicates.sql)
LEFT JOIN dup_assessments dup
       ON dup.assessment_id IS NOT DISTINCT FROM i.assessment_id;
