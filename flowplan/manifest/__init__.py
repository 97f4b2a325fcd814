"""Reading a manifest: the position-keeping YAML loader, the JSON Schema, semantic checks."""
