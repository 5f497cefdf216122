"""The SAP v1 data model on top of an engine: the mapping, and the cross-user reads.

Mapping (inside the tenant's own ``sap.sqlite3``, so nothing leaks into the Couchbase tree):

* ``invokerID`` -> user, ``agentID`` -> the block's ``agent_id``;
* a memory -> a fact block in the user's session ``m``;
* a message -> a role-tagged message block in session ``g:<messageGroup>``.

SAP ids are free-form strings, while engine ids may not contain ``/ ? # %``: values are
stored with a reversible ``~XX`` escape. Writes go through the engine API (validation,
embedding, retention); the SAP reads that span users (list, count, get by id) are plain SQL
over the engine's block table, kept in this one module.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass
from typing import Any, Literal

from ..engine import Engine
from ..errors import ConflictError, NotFoundError, ValidationError
from ..storage import BlockRow, from_us
from ..validation import id_char_allowed

Kind = Literal["memory", "message"]
MEMORY_SESSION = "m"
GROUP_PREFIX = "g:"
ROLES = ("USER", "ASSISTANT", "SYSTEM", "TOOL")
_KINDS: dict[str, Literal["fact", "message"]] = {"memory": "fact", "message": "message"}
_ESCAPED = set("/?#%~")
_UNESCAPE = re.compile(r"~u([0-9A-F]{6})|~([0-9A-F]{2})|~_")

SAP_MIGRATIONS = [
    """
CREATE TABLE mi_sap_retention (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    usage_log_days INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
""",
]


def escape_id(value: str) -> str:
    """A reversible encoding of a free-form SAP id into a valid engine id."""
    out = "".join(_escape_char(c) if c in _ESCAPED or not id_char_allowed(c) else c for c in value)
    if not out.strip() or out in (".", ".."):
        out = "~_" + out
    return out


def _escape_char(char: str) -> str:
    code = ord(char)
    return f"~{code:02X}" if code < 0x100 else f"~u{code:06X}"


def unescape_id(value: str) -> str:
    def decode(match: re.Match[str]) -> str:
        hex_digits = match.group(1) or match.group(2)
        return chr(int(hex_digits, 16)) if hex_digits else ""

    return _UNESCAPE.sub(decode, value)


def iso(us: int | None) -> str | None:
    moment = from_us(us)
    if moment is None:
        return None
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Clause:
    """One ``$filter`` condition: ``field eq 'value'`` or ``contains(field, 'value')``."""

    op: Literal["eq", "contains"]
    field: str
    value: str


def render(row: BlockRow, similarity: float | None = None) -> dict[str, Any]:
    """The SAP entity (camelCase) of a stored block."""
    entity: dict[str, Any] = {
        "id": row.block_id,
        "agentID": "" if row.agent_id is None else unescape_id(row.agent_id),
        "invokerID": unescape_id(row.user_id),
    }
    created = iso(row.created_at if row.created_at is not None else row.ingested_at)
    if row.kind == "fact":
        entity["content"] = row.fact or ""
        entity["metadata"] = row.metadata
        entity["createTimestamp"] = created
        entity["updateTimestamp"] = iso(row.updated_at)
    else:
        entity["messageGroup"] = unescape_id(row.session_id[len(GROUP_PREFIX) :])
        entity["role"] = (row.role or "user").upper()
        entity["content"] = row.content or ""
        entity["metadata"] = row.metadata
        entity["createTimestamp"] = created
    if similarity is not None:
        entity["similarity"] = similarity
    return entity


class SapStore:
    """SAP memories, messages and retention of one tenant."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.database = engine.database
        self.database.migrate("sap_server", SAP_MIGRATIONS)
        self._known: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    # --- writes -------------------------------------------------------------------------

    def _ensure_scope(self, user_id: str, session_id: str, invoker: str) -> None:
        if (user_id, session_id) in self._known:
            return
        with contextlib.suppress(ConflictError):
            self.engine.create_user(user_id, invoker if invoker.strip() else "(blank)")
        with contextlib.suppress(ConflictError):
            self.engine.create_session(user_id, session_id)
        with self._lock:
            self._known.add((user_id, session_id))

    def _add(
        self,
        kind: Kind,
        agent: str,
        invoker: str,
        session_id: str,
        content: str,
        metadata: dict[str, Any] | None,
        role: str | None = None,
    ) -> dict[str, Any]:
        user_id = escape_id(invoker)
        agent_id = escape_id(agent)
        self._ensure_scope(user_id, session_id, invoker)
        kwargs: dict[str, Any] = {"metadata": metadata, "agent_id": agent_id}
        if kind == "memory":
            kwargs["facts"] = [content]
        else:
            kwargs["messages"] = [{"role": (role or "").lower(), "content": content}]
        try:
            response = self.engine.add_memory(user_id, session_id, async_processing=False, **kwargs)
        except NotFoundError:  # the scope vanished under the cache: recreate it once
            with self._lock:
                self._known.discard((user_id, session_id))
            self._ensure_scope(user_id, session_id, invoker)
            response = self.engine.add_memory(user_id, session_id, async_processing=False, **kwargs)
        if not response.block_ids:  # dropped by the per-block size limit: say why
            raise ValidationError(str(response.rejected_details[0]["reason"]))
        return self.get(kind, response.block_ids[0])

    def add_memory(
        self, agent: str, invoker: str, content: str, metadata: dict[str, Any] | None
    ) -> dict[str, Any]:
        return self._add("memory", agent, invoker, MEMORY_SESSION, content, metadata)

    def add_message(
        self,
        agent: str,
        invoker: str,
        group: str,
        role: str,
        content: str,
        metadata: dict[str, Any] | None,
    ) -> dict[str, Any]:
        if role.upper() not in ROLES:
            raise ValidationError(f"role {role!r} is invalid: use one of {', '.join(ROLES)}")
        return self._add(
            "message", agent, invoker, GROUP_PREFIX + escape_id(group), content, metadata, role
        )

    def update_memory(
        self, memory_id: str, content: str | None, metadata: dict[str, Any] | None
    ) -> dict[str, Any]:
        if content is None and metadata is None:
            raise ValidationError("a memory update needs content or metadata")
        row = self._locate("memory", memory_id)
        self.engine.update_memory(
            row.user_id,
            row.session_id,
            row.block_id,
            fact=content,
            metadata=metadata,
            async_processing=False,
        )
        return self.get("memory", memory_id)

    def delete(self, kind: Kind, entity_id: str) -> None:
        row = self._locate(kind, entity_id)
        self.engine.delete_memory(row.user_id, row.session_id, [row.block_id])

    # --- reads --------------------------------------------------------------------------

    def _locate(self, kind: Kind, entity_id: str) -> BlockRow:
        rows, _ = self.engine.tenant_blocks(_KINDS[kind], equals={"block_id": entity_id}, limit=1)
        if not rows:
            raise NotFoundError(f"{kind} {entity_id!r} does not exist")
        return rows[0]

    def get(self, kind: Kind, entity_id: str) -> dict[str, Any]:
        return render(self._locate(kind, entity_id))

    def _filters(self, kind: Kind, clauses: list[Clause]) -> tuple[dict[str, str], dict[str, str]]:
        """The OData clauses as (equals, contains) column filters of the engine's blocks."""
        equals: dict[str, str] = {}
        contains: dict[str, str] = {}
        for clause in clauses:
            name, value = clause.field, clause.value
            if clause.op == "contains":
                column = {"content": "text", "metadata": "metadata"}.get(name)
                if column is None:
                    raise ValidationError(f"contains() works on content or metadata, not {name!r}")
                contains[column] = value
            elif name == "agentID":
                equals["agent_id"] = escape_id(value)
            elif name == "invokerID":
                equals["user_id"] = escape_id(value)
            elif name == "id":
                equals["block_id"] = value
            elif name == "messageGroup" and kind == "message":
                equals["session_id"] = GROUP_PREFIX + escape_id(value)
            elif name == "role" and kind == "message":
                equals["role"] = value.lower() if value in ROLES else "\x00no-such-role"
            else:
                fields = "agentID, invokerID, id" + (
                    ", messageGroup, role" if kind == "message" else ""
                )
                raise ValidationError(
                    f"cannot filter {kind} entities on {name!r} with eq; use one of {fields}"
                )
        return equals, contains

    def query(
        self, kind: Kind, clauses: list[Clause], top: int, skip: int, with_count: bool
    ) -> tuple[list[dict[str, Any]], int | None]:
        equals, contains = self._filters(kind, clauses)
        rows, total = self.engine.tenant_blocks(
            _KINDS[kind],
            equals=equals,
            contains=contains,
            limit=top,
            offset=skip,
            with_total=with_count,
        )
        return [render(row) for row in rows], total

    def search(
        self, agent: str, invoker: str, query: str, threshold: float, top: int
    ) -> list[dict[str, Any]]:
        """Memories of agent+invoker with cosine >= threshold, most similar first."""
        user_id = escape_id(invoker)
        filters = {
            "session_ids": [MEMORY_SESSION],
            "agent_id": escape_id(agent),
            "threshold": threshold,
            "relevant_k": 1000,
            "kind": "fact",
        }
        try:
            found = self.engine.search_memory(user_id, None, query, filters).memory_blocks
        except NotFoundError:  # no memory stored for this invoker yet
            return []
        found = [b for b in found if b.similarity is not None and b.similarity >= threshold]
        found.sort(key=lambda b: -(b.similarity or 0.0))
        ids = [b.block_id for b in found[:top]]
        similarity = {b.block_id: b.similarity for b in found}
        rows = {row.block_id: row for row in self.engine.blocks_by_block_id(ids)}
        return [render(rows[i], round(float(similarity[i] or 0.0), 6)) for i in ids if i in rows]

    # --- retention ----------------------------------------------------------------------

    def retention(self) -> dict[str, Any]:
        policy = self.engine.get_retention()
        with self.database.read() as cur:
            row = cur.execute(
                "SELECT usage_log_days, created_at, updated_at FROM mi_sap_retention WHERE id = 1"
            ).fetchone()
        usage, created, updated = (None, None, None) if row is None else row
        engine_updated = (
            None if policy.updated_at is None else int(policy.updated_at.timestamp() * 1e6)
        )
        stamps = [s for s in (updated, engine_updated) if s is not None]
        return {
            "id": 1,
            "messageDays": policy.message_days,
            "memoryDays": policy.memory_days,
            "usageLogDays": usage,
            "createTimestamp": iso(created if created is not None else min(stamps, default=None)),
            "updateTimestamp": iso(max(stamps, default=None)),
        }

    def set_retention(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Partial update: only the given keys change; ``None`` disables a category."""
        for key, value in changes.items():
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ValidationError(f"{key} must be a whole number of days >= 0, or null")
        if "messageDays" in changes or "memoryDays" in changes:
            self.engine.set_retention(
                changes.get("messageDays", "keep"), changes.get("memoryDays", "keep")
            )
        now = self.engine.now_us()
        with self.database.transaction() as cur:
            cur.execute(
                "INSERT INTO mi_sap_retention (id, usage_log_days, created_at, updated_at) "
                "VALUES (1, NULL, ?, ?) ON CONFLICT(id) DO NOTHING",
                (now, now),
            )
            if "usageLogDays" in changes:
                cur.execute(
                    "UPDATE mi_sap_retention SET usage_log_days = ? WHERE id = 1",
                    (changes["usageLogDays"],),
                )
            cur.execute("UPDATE mi_sap_retention SET updated_at = ? WHERE id = 1", (now,))
        return self.retention()


def parse_metadata(value: Any) -> dict[str, Any] | None:
    """SAP metadata arrives as an object or as JSON text; it is stored as an object."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise ValidationError("metadata text must be a JSON object") from None
    if not isinstance(value, dict):
        raise ValidationError("metadata must be a JSON object (or its JSON text)")
    return value
