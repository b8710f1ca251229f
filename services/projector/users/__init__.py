"""People who sign in to the agent UI with a name and a password (`touchpoint users ...`)."""
