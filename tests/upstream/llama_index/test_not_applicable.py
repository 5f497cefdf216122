"""Files of LlamaIndex's chat-store and memory tests with nothing to run against this package's
adapters. See tests/upstream/README.md."""

from __future__ import annotations

import pytest

NOT_APPLICABLE = {
    "storage/chat_store/test_sql_schema.py": "SQLAlchemyChatStore's database-schema option",
    "memory/test_memory_schema.py": "Memory.from_defaults' db_schema option of its SQL store",
    "memory/test_memory_blocks_base.py": "how Memory formats and truncates its own memory blocks "
    "(text, content-block and chat-message blocks defined in the test)",
    "memory/test_memory_read_concurrency.py": "Memory's memory_blocks_concurrency (absent from "
    "the installed llama-index-core) over callback blocks",
    "memory/test_fact_extraction_memory_block.py": "LlamaIndex's FactExtractionMemoryBlock",
    "memory/blocks/test_fact.py": "LlamaIndex's FactExtractionMemoryBlock",
    "memory/blocks/test_static.py": "LlamaIndex's StaticMemoryBlock",
    "memory/blocks/test_vector.py": "LlamaIndex's VectorMemoryBlock",
    "memory/test_vector_memory_sub_dicts.py": "VectorMemory's parsing of retrieved nodes",
}


@pytest.mark.parametrize("path", sorted(NOT_APPLICABLE))
def test_not_applicable(path: str) -> None:
    pytest.skip(
        f"llama-index-core/tests/{path} tests {NOT_APPLICABLE[path]}: no chat store or memory "
        "backend of ours takes part (AgentMemoryBlock is tested in tests/llama_index)"
    )
