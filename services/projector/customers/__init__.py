"""Customers as the agent API and the web pages both see them: queries over the timeline read
model and the identity commands (link, unlink, merge, unmerge). Each takes its ports (a
database connection, a publisher, a clock) as arguments; routes translate and hand over."""
