-- The ledger as copy_published took it from the warehouse, indexed for the report's comparisons (reports.ledger.index).
SELECT scope, cell, count_name, value FROM temp.published_counts
