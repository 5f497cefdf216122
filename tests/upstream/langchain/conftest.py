"""Fixtures for the ports of langchain-core's chat-history tests (skipped without the extra)."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core.chat_history", reason='needs "memory-integrations[langchain]"')
