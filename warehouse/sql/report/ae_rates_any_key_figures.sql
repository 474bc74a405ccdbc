-- The summary's adverse events per 100 sessions: the safety table's 'Any adverse event' rows of all groups.
SELECT period, events, sessions, per_100_sessions, per_100_sessions_ci_low lo, per_100_sessions_ci_high hi
FROM marts.ae_rates
WHERE registry_id = ? AND drug = 'all' AND level = 'any' AND period IN (?, 'cumulative')
