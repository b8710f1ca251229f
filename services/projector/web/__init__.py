"""The agent and ops web pages, served by the agent API: server-rendered Jinja2 templates and a
small vanilla script (no front-end build). `WebUi` mounts them into the API app."""
