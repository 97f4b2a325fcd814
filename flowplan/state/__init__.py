"""The state: what it records (model), where it lives (backends), how applies write it."""
