-- The instant itself stays beside the (possibly local) wall-clock value: elapsed time is taken on it.
SELECT *, {column} AS {column}_instant FROM ({body})
