"""Callbacks owed to callers we missed: decided from the calls topic, recorded as `callback.*`
events, and projected into the callback queue (`/callbacks`)."""
