"""End-to-end tests: the CLI run against a workspace, as a person would run it."""
