"""The catalog: the meta schema, the shipped models and (later) the repository and endpoints."""
