"""What flowplan prints: plans as text, markdown and JSON, and apply progress."""
