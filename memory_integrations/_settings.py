"""Configuration from arguments or ``MEMORY_INTEGRATIONS_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PATH = "agent-memory.sqlite3"


class Settings(BaseSettings):
    """Engine settings. Every field can be set as ``MEMORY_INTEGRATIONS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MEMORY_INTEGRATIONS_", extra="ignore")

    url: str | None = Field(
        default=None,
        description="Where memory lives: a SQLite path or sqlite:/// URL, ':memory:', "
        "a postgresql:// URL, or an http(s):// server. Default: ./agent-memory.sqlite3.",
    )
    embedder: str = Field(
        default="default",
        description="Embedder spec: 'default' (local all-MiniLM-L6-v2), 'hashing', "
        "'openai:<model>'.",
    )
    memory_block_ttl: int = Field(
        default=0, ge=0, description="Global default TTL of blocks in seconds; 0 = never."
    )
    queue_max_size: int = Field(
        default=10_000, ge=1, description="Blocks that may wait for embedding at once."
    )
    processing_batch_size: int = Field(default=32, ge=1, le=1024)
    per_block_token_limit: int = Field(
        default=8192,
        ge=1,
        le=250_000,
        description="Largest block accepted, in estimated tokens (about 4 characters each); "
        "larger blocks of an add are dropped and reported in rejected_details.",
    )
    max_chunks_per_block: int = Field(
        default=64,
        ge=1,
        le=1024,
        description="A block longer than the embedder's window (MiniLM: 256 tokens) is "
        "embedded in overlapping windows, at most this many, and matches by its best one; "
        "the rest of a longer block is found by its keywords only.",
    )
    extraction_model: str | None = Field(
        default=None,
        description="Semantic extraction (summary and contexts per block): "
        "'openai-compatible:<model>' (HTTP, base URL from "
        "MEMORY_INTEGRATIONS_EXTRACTION_BASE_URL or OPENAI_BASE_URL) or a LangChain "
        "init_chat_model spec such as 'openai:gpt-4o-mini'. Unset: no extraction, nothing "
        "reaches for the network.",
    )
    extraction_max_input_tokens: int = Field(
        default=2000,
        ge=16,
        le=200_000,
        description="Longest block text sent to the extraction model, in estimated tokens "
        "(about 4 characters each); a longer block is cut there for extraction only.",
    )
    extraction_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Extraction model calls one process makes at a time (each block is one "
        "call); lower it for a provider with tight rate limits.",
    )
    extraction_max_tokens: int = Field(
        default=300, ge=16, le=8192, description="Most tokens an extraction answer may use."
    )
    manage_facts: bool = Field(
        default=False,
        description="Manage facts by default: with an extraction model, messages yield fact "
        "blocks and each new fact is added, merged into a known one, or dropped; without a "
        "model, facts that repeat a known one are not stored twice (per call: manage_facts=).",
    )
    fact_match_similarity: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Known facts at least this similar (cosine) to a new fact are shown to the "
        "model, which decides whether the new one adds, updates, deletes or repeats one.",
    )
    fact_duplicate_similarity: float = Field(
        default=0.95,
        ge=0,
        le=1,
        description="Without a model, a new fact at least this similar (cosine) to a known one "
        "is a near-duplicate and not stored.",
    )
    exit_timeout: float = Field(
        default=30.0,
        ge=0,
        description="At interpreter exit, seconds to wait for queued embeddings of clients "
        "that were not closed; what is left stays queued and resumes on the next open.",
    )
    index_memory_mb: float = Field(
        default=1024.0,
        gt=0,
        description="Memory budget of the in-process search indexes of one store, in MiB; "
        "the least recently searched users are evicted beyond it (SQLite only: PostgreSQL "
        "searches in the database).",
    )
    max_attempts: int = Field(
        default=3, ge=1, description="Embedding tries before a block is extraction_failed."
    )
    sweep_interval: float = Field(
        default=60.0, gt=0, description="Seconds between background TTL/retention sweeps."
    )
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a worker owns a block it is embedding; blocks a crashed process "
        "held are picked up by others after this.",
    )
    hnsw_m: int = Field(
        default=16,
        ge=2,
        le=100,
        description="PostgreSQL: links per node of the HNSW vector index (set when it is built).",
    )
    hnsw_ef_construction: int = Field(
        default=64,
        ge=4,
        le=1000,
        description="PostgreSQL: candidate list size while building the HNSW index.",
    )
    hnsw_ef_search: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="PostgreSQL: candidate list size of each HNSW search (recall vs. speed); "
        "never below the 50 candidates hybrid ranking takes.",
    )
