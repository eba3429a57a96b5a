"""Database access: connection URLs, the embedded server, engines and migrations."""
