-- The summary's AE rate is the safety table's 'Any adverse event' row of all groups, so it hides with that cell.
SELECT period, events, sessions, per_100_sessions, per_100_sessions_ci_low lo, per_100_sessions_ci_high hi
FROM marts.ae_rates
WHERE registry_id = ? AND drug = 'all' AND level = 'any' AND period IN (?, 'cumulative')
