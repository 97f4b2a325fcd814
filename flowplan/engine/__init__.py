"""The engine: resolving the desired resources, reading the remote, planning, applying."""
