"""Complaints and SLA views: detection of complaints in the interaction log, business-time SLA
clocks, timers that publish warnings and breaches once, and the complaints read model."""
