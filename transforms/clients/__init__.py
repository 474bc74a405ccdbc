"""Clients that pull exports from a registry's own system (REDCap API, FHIR Bulk Data) and land
each complete export in a landing folder atomically, for the ingest flow to pick up."""
