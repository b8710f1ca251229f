"""The live demo behind `touchpoint up --demo`: synthetic customers, a demo configuration, a
local mail sink for notifications, and gentle traffic on every channel sent through the same
entry points real providers use."""
