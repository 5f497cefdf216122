"""The prompt registry (Couchbase semantics): extraction prompts with immutable versions.

A block names the prompt its extraction uses (``prompt_id`` and ``prompt_vid``; none or
"default" is the base prompt). Creating a prompt makes version 0; changing its text adds
the next version; archiving freezes a prompt (or one old version) and keeps its id
reserved; purging deletes (a queued block of a purged prompt falls back to the base
prompt). The tables are the engine's (schema step 5).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import validation
from .._models import Prompt, PromptList, PromptVersion, PromptVersionList
from ..errors import ConflictError, NotFoundError, ValidationError
from ..storage import EPOCH, SqlDatabase, from_us

PROMPT_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_DESCRIPTION = 200
RESERVED_PROMPT_IDS = frozenset({"default"})


@dataclass(frozen=True)
class PromptRecord:
    prompt_id: str
    prompt: str
    description: str
    annotations: dict[str, str] | None
    current_vid: int
    version_count: int
    last_updated_at: int
    archived: bool


@dataclass(frozen=True)
class VersionRecord:
    prompt_id: str
    vid: int
    prompt: str
    updated_at: int
    archived: bool
    is_current: bool


def check_prompt_id(prompt_id: object) -> str:
    if not isinstance(prompt_id, str) or not PROMPT_ID.match(prompt_id):
        raise ValidationError(
            f"prompt_id {prompt_id!r} is invalid: use 1-128 letters, digits, '_' or '-'"
        )
    return prompt_id


def _check_text(value: object, what: str, limit: int | None = None) -> str:
    text = validation.check_text(value, what)
    if limit is not None and len(text) > limit:
        raise ValidationError(f"{what} is {len(text)} characters; the maximum is {limit}")
    return text


def _check_annotations(value: object) -> dict[str, str] | None:
    """Prompt annotations: the same rules as a block's (string keys and values)."""
    return None if value is None else validation.check_annotations(value)


class PromptRegistry:
    """Create, version, archive and purge prompts of one tenant."""

    def __init__(self, database: SqlDatabase, clock: Any = time.time) -> None:
        self.database = database
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock() * 1_000_000)

    def _record(self, cur: Any, prompt_id: str) -> PromptRecord | None:
        row = cur.execute(
            "SELECT p.prompt_id, v.prompt, p.description, p.annotations, p.current_vid, "
            "(SELECT count(*) FROM mi_prompt_versions c WHERE c.prompt_id = p.prompt_id), "
            "p.last_updated_at, p.archived FROM mi_prompts p JOIN mi_prompt_versions v "
            "ON v.prompt_id = p.prompt_id AND v.vid = p.current_vid WHERE p.prompt_id = ?",
            (prompt_id,),
        ).fetchone()
        if row is None:
            return None
        return PromptRecord(
            row[0],
            row[1],
            row[2],
            None if row[3] is None else json.loads(row[3]),
            int(row[4]),
            int(row[5]),
            int(row[6]),
            bool(row[7]),
        )

    def _require(self, cur: Any, prompt_id: str) -> PromptRecord:
        record = self._record(cur, prompt_id)
        if record is None:
            raise NotFoundError(
                f"prompt {prompt_id!r} does not exist; create it with client.create_prompt(...), "
                "or list prompts with client.list_prompts()"
            )
        return record

    def create(
        self,
        prompt_id: str,
        prompt: str,
        description: str,
        annotations: dict[str, str] | None = None,
    ) -> PromptRecord:
        check_prompt_id(prompt_id)
        if prompt_id in RESERVED_PROMPT_IDS:
            raise ValidationError(
                f"prompt_id {prompt_id!r} is reserved (it means the base prompt); pick another"
            )
        _check_text(prompt, "prompt")
        _check_text(description, "description", MAX_DESCRIPTION)
        notes = _check_annotations(annotations)
        now = self._now()
        with self.database.transaction() as cur:
            existing = self._record(cur, prompt_id)
            if existing is not None:
                state = "archived (archived ids stay reserved)" if existing.archived else "exists"
                raise ConflictError(f"prompt {prompt_id!r} already {state}")
            cur.execute(
                "INSERT INTO mi_prompts (prompt_id, description, annotations, current_vid, "
                "last_updated_at) VALUES (?, ?, ?, 0, ?)",
                (prompt_id, description, None if notes is None else json.dumps(notes), now),
            )
            cur.execute(
                "INSERT INTO mi_prompt_versions (prompt_id, vid, prompt, updated_at) "
                "VALUES (?, 0, ?, ?)",
                (prompt_id, prompt, now),
            )
            return self._require(cur, prompt_id)

    def get(self, prompt_id: str) -> PromptRecord:
        check_prompt_id(prompt_id)
        with self.database.read() as cur:
            return self._require(cur, prompt_id)

    def version(self, prompt_id: str, vid: int) -> VersionRecord:
        check_prompt_id(prompt_id)
        with self.database.read() as cur:
            record = self._require(cur, prompt_id)
            row = cur.execute(
                "SELECT prompt, updated_at, archived FROM mi_prompt_versions "
                "WHERE prompt_id = ? AND vid = ?",
                (prompt_id, vid),
            ).fetchone()
        if row is None:
            raise NotFoundError(
                f"prompt {prompt_id!r} has no version {vid}; list_prompt_versions shows them"
            )
        return VersionRecord(
            prompt_id, vid, row[0], int(row[1]), bool(row[2]), vid == record.current_vid
        )

    def page(self, limit: int, offset: int) -> tuple[list[PromptRecord], int]:
        with self.database.read() as cur:
            total = int(cur.execute("SELECT count(*) FROM mi_prompts").fetchone()[0])
            ids = [
                r[0]
                for r in cur.execute(
                    "SELECT prompt_id FROM mi_prompts ORDER BY prompt_id LIMIT ? OFFSET ?",
                    (limit, offset),
                )
            ]
            records = [self._require(cur, pid) for pid in ids]
        return records, total

    def versions(self, prompt_id: str, limit: int, offset: int) -> tuple[list[VersionRecord], int]:
        check_prompt_id(prompt_id)
        with self.database.read() as cur:
            record = self._require(cur, prompt_id)
            rows = cur.execute(
                "SELECT vid, prompt, updated_at, archived FROM mi_prompt_versions "
                "WHERE prompt_id = ? ORDER BY vid LIMIT ? OFFSET ?",
                (prompt_id, limit, offset),
            ).fetchall()
        versions = [
            VersionRecord(
                prompt_id, int(r[0]), r[1], int(r[2]), bool(r[3]), r[0] == record.current_vid
            )
            for r in rows
        ]
        return versions, record.version_count

    def update(
        self,
        prompt_id: str,
        prompt: str | None = None,
        description: str | None = None,
        annotations: dict[str, str] | None = None,
    ) -> PromptRecord:
        check_prompt_id(prompt_id)
        if prompt is None and description is None and annotations is None:
            raise ValidationError(
                'updating a prompt needs "prompt", "description" or "annotations" in the JSON body'
            )
        if prompt is not None:
            _check_text(prompt, "prompt")
        if description is not None:
            _check_text(description, "description", MAX_DESCRIPTION)
        notes = _check_annotations(annotations)
        now = self._now()
        with self.database.transaction() as cur:
            record = self._require(cur, prompt_id)
            if record.archived:
                raise ConflictError(f"prompt {prompt_id!r} is archived and cannot change")
            if prompt is not None:
                vid = int(
                    cur.execute(
                        "SELECT coalesce(max(vid), -1) + 1 FROM mi_prompt_versions "
                        "WHERE prompt_id = ?",
                        (prompt_id,),
                    ).fetchone()[0]
                )
                cur.execute(
                    "INSERT INTO mi_prompt_versions (prompt_id, vid, prompt, updated_at) "
                    "VALUES (?, ?, ?, ?)",
                    (prompt_id, vid, prompt, now),
                )
                cur.execute(
                    "UPDATE mi_prompts SET current_vid = ? WHERE prompt_id = ?", (vid, prompt_id)
                )
            if description is not None:
                cur.execute(
                    "UPDATE mi_prompts SET description = ? WHERE prompt_id = ?",
                    (description, prompt_id),
                )
            if notes is not None:
                cur.execute(
                    "UPDATE mi_prompts SET annotations = ? WHERE prompt_id = ?",
                    (json.dumps(notes), prompt_id),
                )
            cur.execute(
                "UPDATE mi_prompts SET last_updated_at = ? WHERE prompt_id = ?", (now, prompt_id)
            )
            return self._require(cur, prompt_id)

    def archive(self, prompt_id: str, vid: int | None) -> None:
        """Archive every version (``vid=None``, i.e. ``all``) or one non-current version."""
        check_prompt_id(prompt_id)
        with self.database.transaction() as cur:
            record = self._require(cur, prompt_id)
            if vid is None:
                if record.archived:
                    raise ConflictError(f"prompt {prompt_id!r} is already archived")
                cur.execute(
                    "UPDATE mi_prompts SET archived = 1, last_updated_at = ? WHERE prompt_id = ?",
                    (self._now(), prompt_id),
                )
                cur.execute(
                    "UPDATE mi_prompt_versions SET archived = 1 WHERE prompt_id = ?", (prompt_id,)
                )
                return
            if self._version_archived(cur, prompt_id, vid):
                raise ConflictError(f"version {vid} of prompt {prompt_id!r} is already archived")
            if vid == record.current_vid:
                raise ConflictError(
                    f"version {vid} is the current version of {prompt_id!r}: archive the whole "
                    "prompt with vid='all', or update it to a new version first"
                )
            cur.execute(
                "UPDATE mi_prompt_versions SET archived = 1 WHERE prompt_id = ? AND vid = ?",
                (prompt_id, vid),
            )

    def purge(self, prompt_id: str, vid: int | None) -> None:
        """Delete every version (freeing the id) or one non-current version."""
        check_prompt_id(prompt_id)
        with self.database.transaction() as cur:
            record = self._require(cur, prompt_id)
            if vid is None:
                cur.execute("DELETE FROM mi_prompt_versions WHERE prompt_id = ?", (prompt_id,))
                cur.execute("DELETE FROM mi_prompts WHERE prompt_id = ?", (prompt_id,))
                return
            if vid == record.current_vid:
                raise ConflictError(
                    f"version {vid} is the current version of {prompt_id!r}; purge the whole "
                    "prompt with vid='all', or update it to a new version first"
                )
            cur.execute(
                "DELETE FROM mi_prompt_versions WHERE prompt_id = ? AND vid = ?",
                (prompt_id, vid),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"prompt {prompt_id!r} has no version {vid}")

    def check_usable(self, prompt_id: str, vid: int | None) -> int:
        """The version a block stamped with this prompt gets; 404 unknown, 409 archived."""
        check_prompt_id(prompt_id)
        with self.database.read() as cur:
            record = self._require(cur, prompt_id)
            if record.archived:
                raise ConflictError(f"prompt {prompt_id!r} is archived; pick an active prompt")
            if vid is None:
                return record.current_vid
            if self._version_archived(cur, prompt_id, vid):
                raise ConflictError(f"version {vid} of prompt {prompt_id!r} is archived")
        return vid

    @staticmethod
    def _version_archived(cur: Any, prompt_id: str, vid: int) -> bool:
        """Whether version ``vid`` is archived; NotFoundError when there is no such version."""
        row = cur.execute(
            "SELECT archived FROM mi_prompt_versions WHERE prompt_id = ? AND vid = ?",
            (prompt_id, vid),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"prompt {prompt_id!r} has no version {vid}")
        return bool(row[0])


def prompt_model(record: PromptRecord) -> Prompt:
    return Prompt(
        prompt_id=record.prompt_id,
        prompt=record.prompt,
        description=record.description,
        annotations=record.annotations,
        current_vid=record.current_vid,
        version_count=record.version_count,
        last_updated_at=from_us(record.last_updated_at) or EPOCH,
        archived=record.archived,
    )


def version_model(record: VersionRecord) -> PromptVersion:
    return PromptVersion(
        prompt_id=record.prompt_id,
        vid=record.vid,
        prompt=record.prompt,
        updated_at=from_us(record.updated_at) or EPOCH,
        archived=record.archived,
        is_current=record.is_current,
    )


def _vid(vid: int | str, what: str) -> int | None:
    """``"all"`` as None, else a version number."""
    if vid == "all":
        return None
    return validation.check_int(vid, what, 0, 2**31 - 1)


class Prompts:
    """The registry's public methods on the engine (a part of :class:`Engine`)."""

    prompts: PromptRegistry

    def create_prompt(
        self,
        prompt_id: str,
        prompt: str,
        description: str,
        annotations: Mapping[str, str] | None = None,
    ) -> Prompt:
        """Register an extraction prompt at version 0 (409 if the id is taken or archived)."""
        notes = None if annotations is None else dict(annotations)
        return prompt_model(self.prompts.create(prompt_id, prompt, description, notes))

    def get_prompt(self, prompt_id: str, vid: int | None = None) -> Prompt | PromptVersion:
        """A prompt (its current version), or one version of it when ``vid`` is given."""
        if vid is None:
            return prompt_model(self.prompts.get(prompt_id))
        number = validation.check_int(vid, "vid", 0, 2**31 - 1)
        return version_model(self.prompts.version(prompt_id, number))

    def list_prompts(self, limit: int = 100, offset: int = 0) -> PromptList:
        validation.check_limit(limit, "limit", 1, 1000)
        validation.check_offset(offset)
        records, total = self.prompts.page(limit, offset)
        found = [prompt_model(r) for r in records]
        return PromptList(prompts=found, count=len(found), total=total, limit=limit, offset=offset)

    def update_prompt(
        self,
        prompt_id: str,
        prompt: str | None = None,
        description: str | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Prompt:
        """New ``prompt`` text makes a new immutable version; description and annotations
        change the prompt itself (409 when archived)."""
        notes = None if annotations is None else dict(annotations)
        return prompt_model(self.prompts.update(prompt_id, prompt, description, notes))

    def list_prompt_versions(
        self, prompt_id: str, limit: int = 100, offset: int = 0
    ) -> PromptVersionList:
        validation.check_limit(limit, "limit", 1, 1000)
        validation.check_offset(offset)
        records, total = self.prompts.versions(prompt_id, limit, offset)
        found = [version_model(r) for r in records]
        return PromptVersionList(
            versions=found, count=len(found), total=total, limit=limit, offset=offset
        )

    def archive_prompt(self, prompt_id: str, vid: int | str = "all") -> None:
        """Archive the prompt (``"all"``: it can no longer be used or changed, its id stays
        reserved) or one old version."""
        self.prompts.archive(prompt_id, _vid(vid, "vid"))

    def purge_prompt(self, prompt_id: str, vid: int | str = "all") -> None:
        """Delete the prompt (``"all"``: its id becomes free) or one old version; blocks
        that named it are extracted with the base prompt from then on."""
        self.prompts.purge(prompt_id, _vid(vid, "vid"))
