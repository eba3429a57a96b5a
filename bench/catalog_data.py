"""Synthetic catalogs for the HTTP benchmarks: N models in the head schema, inserted with SQL.

Every generated `meta` has the keys a real catalog uses and is validated by
`modelreg.catalog.meta.ModelMeta` before it is inserted. Credits are computed from the prices as
modelreg computes them (a share of models have pinned credits instead). The mix of states is
roughly that of a long-lived catalog: mostly active models, some legacy ones naming an active
replacement, a few archived or unavailable ones.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from harness import log
from modelreg.catalog.credit_fill import fill_credits
from modelreg.catalog.meta import ModelMeta
from modelreg.config import get_settings
from modelreg.db import jsonb
from modelreg.db.urls import libpq_conninfo

PROVIDERS = ("openai", "anthropic", "google", "mistral", "meta", "cohere", "deepseek", "xai")
CAPABILITIES = ("text", "vision", "function_calling", "code", "long_context", "reasoning")
CONTEXT_LENGTHS = (8_192, 16_384, 32_768, 65_536, 128_000, 200_000, 1_000_000)
MAX_OUTPUTS = (None, 4_096, 8_192, 16_384, 32_768, 65_536)
COMPLIANCE_TAGS = ("soc2", "hipaa", "gdpr", "iso27001", "pci", "fedramp")
REGIONS = ("us-east", "us-west", "eu-west", "eu-central", "ap-south")
WORDS = (
    "fast",
    "accurate",
    "multilingual",
    "general-purpose",
    "instruction-tuned",
    "long-context",
    "cost-efficient",
    "tool-using",
    "reasoning",
    "chat",
    "coding",
    "vision-language",
    "distilled",
    "frontier",
)
# requiredTier, weighted toward the lower tiers as real catalogs are.
TIER_WEIGHTS = (40, 30, 15, 8, 5, 2)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SyntheticModel:
    id: str
    name: str
    provider: str
    is_available: bool
    is_legacy: bool
    is_archived: bool
    meta: dict[str, Any]
    created_at: datetime

    @property
    def served(self) -> bool:
        """Listed by `GET /v1/models` with its default filters (not archived, available)."""
        return self.is_available and not self.is_archived


def model_id(provider: str, index: int) -> str:
    return f"{provider}-bench-{index:06d}"


def _price(rng: random.Random) -> Decimal:
    """USD per million input tokens, 0.005 to 15, with a long tail of cheap models."""
    cents = int(10 ** rng.uniform(-0.3, 3.18))  # 0.5 .. 1500 cents
    return (Decimal(max(cents, 1)) / 100).normalize()


def _meta(
    rng: random.Random, index: int, provider: str, *, legacy_of: str | None, sunset: date
) -> dict[str, Any]:
    tiers = get_settings().tiers
    capabilities = ["text", *rng.sample(CAPABILITIES[1:], k=rng.randint(0, 4))]
    context_length = rng.choice(CONTEXT_LENGTHS)
    max_output = rng.choice(MAX_OUTPUTS)
    input_usd = _price(rng)
    output_usd = (input_usd * rng.choice((1, 2, 3, 4, 5, 8))).normalize()
    mode = rng.choices(("minimum", "exact", "whitelist"), weights=(70, 10, 20))[0]
    required = rng.choices(tiers, weights=TIER_WEIGHTS[: len(tiers)])[0]
    allowed = sorted(rng.sample(tiers, k=rng.randint(1, 3)), key=tiers.index)
    words = rng.sample(WORDS, k=4)
    meta: dict[str, Any] = {
        "displayName": f"{provider.title()} Bench {index}",
        "description": (
            f"A {words[0]}, {words[1]} model for {words[2]} and {words[3]} workloads "
            f"(synthetic benchmark model #{index})."
        ),
        "version": f"{rng.randint(1, 4)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}",
        "capabilities": capabilities,
        "contextLength": context_length,
        "inputCostUsdPerMillionTokens": input_usd,
        "outputCostUsdPerMillionTokens": output_usd,
        "requiredTier": required,
        "tierRestrictionMode": mode,
        "allowedTiers": allowed if mode == "whitelist" else [],
        "providerMetadata": {
            "family": f"{provider}-family-{index % 7}",
            "region": rng.choice(REGIONS),
            "endpoint": "chat/completions",
            "rateLimitRpm": rng.choice((60, 500, 3_000, 10_000)),
        },
        "internalNotes": f"bench row {index}; owner team-{index % 5}",
        "complianceTags": sorted(rng.sample(COMPLIANCE_TAGS, k=rng.randint(0, 3))),
    }
    if max_output is not None and max_output <= context_length:
        meta["maxOutputTokens"] = max_output
    if rng.random() < 0.1:
        # Pinned credits: the admin set the blended rate, the per-direction ones follow.
        meta["creditsPer1kTokens"] = (Decimal(rng.randint(1, 4000)) / 100).normalize()
        meta = fill_credits(meta, touched=("creditsPer1kTokens",), previous=None)
    else:
        meta = fill_credits(meta, touched=(), previous=None)
    if legacy_of is not None:
        meta["legacyReplacementModelId"] = legacy_of
        meta["deprecationNotice"] = f"Superseded by {legacy_of}."
        meta["sunsetDate"] = sunset.isoformat()
        meta["deprecatedAt"] = (EPOCH + timedelta(days=rng.randint(300, 600))).isoformat()
    return ModelMeta.model_validate(meta).to_storage()


def synthetic_models(count: int, seed: int = 20261128) -> list[SyntheticModel]:
    """`count` models: ~84 % active and available, ~10 % legacy (each naming an earlier active
    model as its replacement), ~3 % archived, ~3 % active but unavailable."""
    rng = random.Random(seed)
    sunset = date.today() + timedelta(days=365)
    models: list[SyntheticModel] = []
    active_ids: list[str] = []
    for index in range(count):
        provider = PROVIDERS[index % len(PROVIDERS)]
        ident = model_id(provider, index)
        roll = rng.random()
        is_legacy = roll < 0.10 and bool(active_ids)
        is_archived = 0.10 <= roll < 0.13
        is_available = not (0.13 <= roll < 0.16)
        replacement = rng.choice(active_ids[-50:]) if is_legacy else None
        meta = _meta(rng, index, provider, legacy_of=replacement, sunset=sunset)
        models.append(
            SyntheticModel(
                id=ident,
                name=f"{ident}-{meta['version']}",
                provider=provider,
                is_available=is_available,
                is_legacy=is_legacy,
                is_archived=is_archived,
                meta=meta,
                created_at=EPOCH + timedelta(minutes=index * 7 + rng.randint(0, 6)),
            )
        )
        if not (is_legacy or is_archived) and is_available:
            active_ids.append(ident)
    return models


COLUMNS = (
    "id",
    "name",
    "provider",
    "is_available",
    "is_legacy",
    "is_archived",
    "meta",
    "version",
    "created_at",
    "updated_at",
)


def insert_models(url: URL, models: list[SyntheticModel]) -> float:
    """COPY the models into `models`, bump the catalog revision, ANALYZE; return the seconds."""
    started = time.perf_counter()
    with psycopg.connect(libpq_conninfo(url)) as conn:
        with conn.cursor() as cur:
            statement = f"COPY models ({', '.join(COLUMNS)}) FROM STDIN"
            with cur.copy(statement) as copy:
                for m in models:
                    copy.write_row(
                        (
                            m.id,
                            m.name,
                            m.provider,
                            m.is_available,
                            m.is_legacy,
                            m.is_archived,
                            jsonb.dumps(m.meta),
                            1,
                            m.created_at,
                            m.created_at,
                        )
                    )
            cur.execute("UPDATE catalog_state SET revision = revision + 1, changed_at = now()")
        conn.commit()
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) models")
    elapsed = time.perf_counter() - started
    log(f"inserted {len(models):,} models in {elapsed:.1f} s")
    return elapsed


def load_catalog(url: URL, count: int, seed: int = 20261128) -> list[SyntheticModel]:
    started = time.perf_counter()
    models = synthetic_models(count, seed)
    log(f"generated and validated {count:,} models in {time.perf_counter() - started:.1f} s")
    insert_models(url, models)
    return models
