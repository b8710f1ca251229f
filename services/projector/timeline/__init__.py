"""The customer timeline projection: customers, identities and timeline entries from the log."""
