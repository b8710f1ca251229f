"""Consent per subject and purpose: the projection of `consent.*` events (current state and
history), the agent's command to record consent, and the queries of the customer page, API
and export."""
