"""The in-memory catalog each instance serves `/v1` from, and how it stays current."""
