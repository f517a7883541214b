"""Names every layer shares: configuration, error types, request states, text rules. Imports nothing above it."""
