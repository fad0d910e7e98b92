"""The face of qaudit: each module parses options, calls one job, prints."""
