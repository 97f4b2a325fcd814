"""Talking to Flow Service: settings from the environment, the HTTP client, the spec catalogue."""
