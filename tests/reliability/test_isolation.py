"""Property-based isolation: interleaved calls of several users never touch each other's data.

A hypothesis state machine drives adds, updates, deletes (own and foreign ids), TTL changes,
searches and exports for three users with two sessions each, and checks after every step
that each user's stored blocks equal a model of what that user did.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import NotFoundError

USERS = ("u0", "u1", "u2")
SESSIONS = ("s0", "s1")
WORDS = st.sampled_from(["pizza", "tea", "order", "shipping", "delay", "olive", "blue"])


def make_machine(location: Callable[[], Any]) -> type[RuleBasedStateMachine]:
    class Isolation(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.client = AgentMemoryClient(location(), embedder=HashingEmbedder())
            self.model: dict[str, dict[str, str]] = {u: {} for u in USERS}
            self.session_of: dict[str, str] = {}
            for user_id in USERS:
                user = self.client.create_user(user_id, user_id)
                for session_id in SESSIONS:
                    user.create_session(session_id)

        def teardown(self) -> None:
            self.client.close()

        def session(self, user_id: str, session_id: str) -> Any:
            return self.client.get_user(user_id).get_session(session_id)

        def foreign_id(self, user_id: str, data: st.DataObject) -> str | None:
            others = [b for u in USERS if u != user_id for b in self.model[u]]
            return data.draw(st.sampled_from(others)) if others else None

        @rule(
            user=st.sampled_from(USERS),
            session=st.sampled_from(SESSIONS),
            words=st.lists(WORDS, min_size=1, max_size=4),
        )
        def add(self, user: str, session: str, words: list[str]) -> None:
            text = " ".join(words) + f" #{uuid.uuid4().hex[:6]}"
            (block_id,) = (
                self.session(user, session)
                .add_memory(facts=[text], async_processing=False)
                .block_ids
            )
            self.model[user][block_id] = text
            self.session_of[block_id] = session

        @rule(user=st.sampled_from(USERS), data=st.data())
        def update_own(self, user: str, data: st.DataObject) -> None:
            if not self.model[user]:
                return
            block_id = data.draw(st.sampled_from(sorted(self.model[user])))
            text = f"updated {uuid.uuid4().hex[:6]}"
            self.session(user, self.session_of[block_id]).update_memory(
                block_id=block_id, fact=text, async_processing=False
            )
            self.model[user][block_id] = text

        @rule(user=st.sampled_from(USERS), session=st.sampled_from(SESSIONS), data=st.data())
        def touch_foreign(self, user: str, session: str, data: st.DataObject) -> None:
            block_id = self.foreign_id(user, data)
            if block_id is None:
                return
            own = self.session(user, session)
            with pytest.raises(NotFoundError):
                own.update_memory(block_id=block_id, fact="hijacked")
            with pytest.raises(NotFoundError):
                own.get_memory_block(block_id)
            own.delete_memory(block_ids=[block_id])  # idempotent no-op outside the scope
            assert own.search_memory(filters={"block_ids": [block_id]}).count == 0
            self.client.get_user(user).modify_ttl(
                new_ttl=0, session_id=session, block_ids=[block_id]
            )

        @rule(user=st.sampled_from(USERS), data=st.data())
        def delete_own(self, user: str, data: st.DataObject) -> None:
            if not self.model[user]:
                return
            block_id = data.draw(st.sampled_from(sorted(self.model[user])))
            self.session(user, self.session_of[block_id]).delete_memory([block_id])
            del self.model[user][block_id]

        @rule(user=st.sampled_from(USERS), session=st.sampled_from(SESSIONS))
        def delete_session_blocks(self, user: str, session: str) -> None:
            self.session(user, session).delete_memory("all")
            self.model[user] = {
                b: t for b, t in self.model[user].items() if self.session_of[b] != session
            }

        @rule(user=st.sampled_from(USERS), ttl=st.integers(min_value=3600, max_value=10**6))
        def modify_ttl(self, user: str, ttl: int) -> None:
            self.client.get_user(user).modify_ttl(new_ttl=ttl)

        @rule(user=st.sampled_from(USERS), word=WORDS)
        def search(self, user: str, word: str) -> None:
            found = self.client.get_user(user).search_memory(word, {"relevant_k": 50})
            assert {b.user_id for b in found.memory_blocks} <= {user}
            assert {b.block_id for b in found.memory_blocks} <= set(self.model[user])

        @rule(user=st.sampled_from(USERS))
        def export(self, user: str) -> None:
            records = list(self.client.backend.export_records(user))  # type: ignore[attr-defined]
            blocks = {r["block_id"] for r in records if r["type"] == "block"}
            assert blocks == set(self.model[user])
            assert {r["user_id"] for r in records if "user_id" in r} == {user}

        @invariant()
        def stored_blocks_match_the_model(self) -> None:
            for user in USERS:
                page = self.client.get_user(user).list_memories(limit=200)
                assert {b.block_id: b.fact for b in page.memory_blocks} == self.model[user]
                assert all(
                    b.expires_at is None or b.block_id in self.model[user]
                    for b in page.memory_blocks
                )

    return Isolation


def test_users_never_touch_each_others_data(
    storage: str, db_path: Any, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    counter = iter(range(10**6))
    if storage == "sqlite":

        def location() -> Any:
            return tmp_path / f"iso-{next(counter)}.sqlite3"

        examples = 25
    else:
        import psycopg

        base = request.getfixturevalue("postgres_server")

        def location() -> Any:
            schema = f"iso_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema},public"

        examples = 8
    machine = make_machine(location)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
