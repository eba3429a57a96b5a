"""A catalog table as Prisma creates it, with the rows a real catalog of that age holds.

The DDL is what `prisma migrate` generates for this schema (PostgreSQL connector):

    enum subscription_tier { free pro pro_max enterprise_pro enterprise_max perpetual }
    enum model_capability  { text vision function_calling code long_context audio }

    model Model {
      id                         String              @id @db.VarChar(100)
      name                       String              @db.VarChar(255)
      displayName                String              @map("display_name") @db.VarChar(255)
      provider                   String              @db.VarChar(100)
      description                String?
      capabilities               model_capability[]
      contextLength              Int                 @map("context_length")
      maxOutputTokens            Int?                @map("max_output_tokens")
      inputCostPerMillionTokens  Int                 @map("input_cost_per_million_tokens")
      outputCostPerMillionTokens Int                 @map("output_cost_per_million_tokens")
      creditsPer1kTokens         Int                 @map("credits_per_1k_tokens")
      isAvailable                Boolean             @default(true) @map("is_available")
      isDeprecated               Boolean             @default(false) @map("is_deprecated")
      version                    String?             @db.VarChar(50)
      createdAt                  DateTime            @default(now()) @map("created_at")
      updatedAt                  DateTime            @updatedAt @map("updated_at")
      requiredTier               subscription_tier   @default(free) @map("required_tier")
      tierRestrictionMode        String              @default("minimum") @map("tier_restriction_mode") @db.VarChar(20)
      allowedTiers               subscription_tier[] @default([]) @map("allowed_tiers")

      @@index([requiredTier])
      @@map("models")
    }

Prisma's conventions, each a difference from 0001_baseline: every identifier quoted;
`DateTime` is `TIMESTAMP(3)` without time zone, holding UTC; `@default(now())` is
`DEFAULT CURRENT_TIMESTAMP`; `@updatedAt` is set by the client, so the column has no default;
a list is a nullable array column and `@default([])` is `ARRAY[]::"enum"[]`; `@@index` makes
`<table>_<column>_idx`; the primary key is the constraint `<table>_pkey`. The `audio` label was
added to the enum before any model used it.
"""  # noqa: E501

from __future__ import annotations

from sqlalchemy import Connection

PRISMA_DDL = """
-- CreateEnum
CREATE TYPE "subscription_tier" AS ENUM ('free', 'pro', 'pro_max', 'enterprise_pro', 'enterprise_max', 'perpetual');

-- CreateEnum
CREATE TYPE "model_capability" AS ENUM ('text', 'vision', 'function_calling', 'code', 'long_context', 'audio');

-- CreateTable
CREATE TABLE "models" (
    "id" VARCHAR(100) NOT NULL,
    "name" VARCHAR(255) NOT NULL,
    "display_name" VARCHAR(255) NOT NULL,
    "provider" VARCHAR(100) NOT NULL,
    "description" TEXT,
    "capabilities" "model_capability"[],
    "context_length" INTEGER NOT NULL,
    "max_output_tokens" INTEGER,
    "input_cost_per_million_tokens" INTEGER NOT NULL,
    "output_cost_per_million_tokens" INTEGER NOT NULL,
    "credits_per_1k_tokens" INTEGER NOT NULL,
    "is_available" BOOLEAN NOT NULL DEFAULT true,
    "is_deprecated" BOOLEAN NOT NULL DEFAULT false,
    "version" VARCHAR(50),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,
    "required_tier" "subscription_tier" NOT NULL DEFAULT 'free',
    "tier_restriction_mode" VARCHAR(20) NOT NULL DEFAULT 'minimum',
    "allowed_tiers" "subscription_tier"[] DEFAULT ARRAY[]::"subscription_tier"[],

    CONSTRAINT "models_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "models_required_tier_idx" ON "models"("required_tier");
"""  # noqa: E501

# Rows as the Prisma client wrote them (every column named, updatedAt set by the client), plus
# two older rows written by hand before `capabilities` was filled in.
PRISMA_ROWS = """
INSERT INTO "models" ("id", "name", "display_name", "provider", "description", "capabilities",
    "context_length", "max_output_tokens", "input_cost_per_million_tokens",
    "output_cost_per_million_tokens", "credits_per_1k_tokens", "is_available", "is_deprecated",
    "version", "created_at", "updated_at", "required_tier", "tier_restriction_mode",
    "allowed_tiers")
VALUES
    ('gpt-4o', 'gpt-4o', 'GPT-4o', 'openai', 'Multimodal flagship model.',
     ARRAY['text', 'vision', 'function_calling']::"model_capability"[], 128000, 16384, 250, 1000,
     7, true, false, '2024-08-06', '2024-05-13 18:04:12.123', '2024-11-20 09:30:00.456', 'pro',
     'minimum', ARRAY[]::"subscription_tier"[]),
    ('gpt-4o-mini', 'gpt-4o-mini', 'GPT-4o mini', 'openai', 'Small, fast and cheap.',
     ARRAY['text', 'vision', 'function_calling']::"model_capability"[], 128000, 16384, 15, 60,
     1, true, false, '2024-07-18', '2024-07-18 16:00:00.000', '2024-07-18 16:00:00.000', 'free',
     'minimum', ARRAY[]::"subscription_tier"[]),
    ('claude-3-haiku', 'claude-3-haiku-20240307', 'Claude 3 Haiku', 'anthropic', NULL,
     ARRAY['text', 'vision']::"model_capability"[], 200000, NULL, 25, 125, 1, true, true, NULL,
     '2024-03-07 12:00:00.000', '2025-01-15 08:00:00.789', 'free', 'minimum',
     ARRAY[]::"subscription_tier"[]),
    ('o1', 'o1', 'o1', 'openai', 'Reasoning model.',
     ARRAY['text', 'code', 'long_context']::"model_capability"[], 200000, 100000, 1500, 6000,
     38, true, false, '2024-12-17', '2024-12-17 18:00:00.000', '2024-12-17 18:00:00.000',
     'enterprise_pro', 'exact', ARRAY[]::"subscription_tier"[]),
    ('claude-3-opus', 'claude-3-opus-20240229', 'Claude 3 Opus', 'anthropic',
     'Most capable Claude 3 model.', ARRAY['text', 'vision', 'code']::"model_capability"[],
     200000, 4096, 1500, 7500, 45, true, true, '20240229', '2024-02-29 12:00:00.000',
     '2025-06-30 00:00:00.000', 'pro', 'whitelist',
     ARRAY['pro_max', 'enterprise_max']::"subscription_tier"[]),
    ('text-embedding-3-small', 'text-embedding-3-small', 'Embedding 3 small', 'openai', NULL,
     ARRAY[]::"model_capability"[], 8191, NULL, 2, 0, 1, false, false, NULL,
     '2024-01-25 10:00:00.000', '2024-01-25 10:00:00.000', 'free', 'minimum',
     ARRAY[]::"subscription_tier"[]);
INSERT INTO "models" ("id", "name", "display_name", "provider", "context_length",
    "input_cost_per_million_tokens", "output_cost_per_million_tokens", "credits_per_1k_tokens",
    "is_deprecated", "updated_at")
VALUES
    ('text-davinci-003', 'text-davinci-003', 'Davinci 003', 'openai', 4097, 2000, 2000, 20, true,
     '2023-06-13 00:00:00.000'),
    ('gpt-3.5-turbo-instruct', 'gpt-3.5-turbo-instruct', 'GPT-3.5 Turbo Instruct', 'openai',
     4096, 150, 200, 2, false, '2023-09-18 00:00:00.000');
"""

# Rows whose capabilities are NULL or empty: ModelMeta needs at least one.
WITHOUT_CAPABILITIES = ("gpt-3.5-turbo-instruct", "text-davinci-003", "text-embedding-3-small")


def create_prisma_catalog(conn: Connection) -> None:
    conn.exec_driver_sql(PRISMA_DDL)
    conn.exec_driver_sql(PRISMA_ROWS)
