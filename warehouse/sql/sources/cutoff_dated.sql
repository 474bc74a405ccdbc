-- Events dated before the cutoff (exclusive); no cutoff: all of them.
SELECT * FROM ({body})
WHERE getvariable('cutoff') IS NULL OR {column} < getvariable('cutoff')
