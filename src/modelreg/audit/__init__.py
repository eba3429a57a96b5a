"""Append-only audit events and the numbered version history of every model."""
