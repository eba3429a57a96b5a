"""Imports from upstream model lists: sources, plans, apply."""
