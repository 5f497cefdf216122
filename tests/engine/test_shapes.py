"""Result lists iterate over their items, and users have one shape (``id`` and ``user_id``)."""

from __future__ import annotations

from pathlib import Path

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder


def test_lists_iterate_over_their_items_and_users_have_one_shape(tmp_path: Path) -> None:
    with AgentMemoryClient(tmp_path / "m.sqlite3", embedder=HashingEmbedder()) as client:
        ana = client.create_user("ana", "Ana")
        session = ana.create_session("s1")
        session.add_memory(facts=["Ana likes tea.", "Ana flies in May."], async_processing=False)
        users = client.list_users()
        assert [u.user_id for u in users] == ["ana"] == [u.id for u in users.users]
        assert len(users) == 1 and users[0].name == "Ana"
        assert ana.id == ana.user_id == "ana"
        sessions = ana.list_sessions()
        assert [s.session_id for s in sessions] == ["s1"] and len(sessions) == 1
        page = session.list_memories()
        assert sorted(b.fact or "" for b in page) == ["Ana flies in May.", "Ana likes tea."]
        assert len(page) == 2 == page.total
        hits = ana.search_memory("tea")
        assert hits[0].fact == "Ana likes tea." and len(hits) == hits.count
