"""The command-line tests' fixtures (tests/fixtures/cli.py)."""

from tests.fixtures.cli import runner, seeded_url

__all__ = ["runner", "seeded_url"]
