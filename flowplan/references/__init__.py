"""`${…}` references in manifest values and how they are resolved (environment, files)."""
