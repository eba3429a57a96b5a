"""The migration verification report: proof that every row made it into a valid `meta`."""
