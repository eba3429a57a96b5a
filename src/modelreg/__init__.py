"""modelreg: the source of truth for which LLM models a product offers, to whom, at what price."""

__version__ = "0.1.0"
