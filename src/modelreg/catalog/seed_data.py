"""The shipped seed catalog: real models from the major providers, read from `data/models.json`.

Each entry carries the provider's published list price (standard tier, text tokens, the lowest
context band where prices are tiered) in US dollars per million tokens, and the price in credits
derived from it:

    creditsPer1kTokens = (inputCostUsdPerMillionTokens + outputCostUsdPerMillionTokens) / 2

that is, the blended (mean of input and output) USD price per million tokens, expressed in credits
where 1 credit = 0.001 USD per 1k tokens. Numbers are read as Decimal, so the formula holds
exactly for every shipped model.
"""

from __future__ import annotations

from decimal import Decimal
from importlib.resources import files
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from modelreg.catalog.meta import ModelMeta
from modelreg.db import jsonb

MODEL_ID_PATTERN = r"^[a-z0-9][a-z0-9._:-]*$"


class SeedModel(BaseModel):
    """One model of the seed catalog: the row columns plus its `meta`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100, pattern=MODEL_ID_PATTERN)
    name: str
    provider: str
    is_available: bool = True
    is_legacy: bool = False
    meta: ModelMeta


def credits_for(input_usd: Decimal, output_usd: Decimal) -> Decimal:
    """Credits per 1k tokens for a model priced at `input_usd` and `output_usd` per 1M tokens.

    creditsPer1kTokens = (input + output) / 2, the blended USD price per million tokens, where
    1 credit = 0.001 USD per 1k tokens. Exact in Decimal: halving a finite decimal adds at most
    one digit.
    """
    return (input_usd + output_usd) / 2


def load_seed_models() -> list[SeedModel]:
    """Read and validate the shipped catalog, in file order."""
    text = (files("modelreg.catalog") / "data" / "models.json").read_text(encoding="utf-8")
    document: Any = jsonb.loads(text)
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        raise ValueError('models.json must be an object with a "models" list')
    return [SeedModel.model_validate(entry) for entry in document["models"]]
