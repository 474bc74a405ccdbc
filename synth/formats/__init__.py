"""Writers that turn a native (kor) export into the same cohort in other registry formats, so the
adapters can be tested on identical facts: redcap (the reference project in reference/redcap/)
and fhir (Bulk Data NDJSON + completion manifest)."""
