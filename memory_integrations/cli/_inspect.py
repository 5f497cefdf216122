"""``users``, ``sessions``, ``blocks`` and ``search``: look into a store from the terminal.

Each works on a SQLite file (``--path``), a PostgreSQL database (``--url postgresql://``) or
a server (``--url http://... --token ...``), prints a table (``--json`` for machines) and
never creates or changes a store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from .._models import MemoryBlock
from ..validation import MAX_RELEVANT_K
from ._output import clip, print_json, print_page, print_table, when
from ._store import open_store, store_options

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
_OFFSET = click.option(
    "--offset", default=0, show_default=True, type=click.IntRange(min=0), help="Skip this many."
)


F = TypeVar("F", bound=Callable[..., Any])


def _limit(default: int, maximum: int) -> Callable[[F], F]:
    return click.option(
        "--limit",
        default=default,
        show_default=True,
        type=click.IntRange(1, maximum),
        help=f"At most this many (1-{maximum}).",
    )


def _block_text(block: MemoryBlock) -> str:
    if block.fact is not None:
        return block.fact
    message = block.message
    if message is None:
        return ""
    if message.role is not None:
        who = message.role.value + (f" ({message.name})" if message.name else "")
        return f"{who}: {message.content or ''}"
    parts = []
    if message.user_content:
        parts.append(f"user: {message.user_content}")
    if message.assistant_content:
        parts.append(f"assistant: {message.assistant_content}")
    return " / ".join(parts)


def _block_json(block: MemoryBlock) -> dict[str, Any]:
    return {"kind": block.kind, **block.model_dump(mode="json", exclude_none=True)}


@click.command("users")
@store_options(required=False, server=True)
@_limit(50, 500)
@_OFFSET
@click.option("--name", default=None, help="Only users with exactly this name.")
@_JSON
def users_cmd(
    location: str,
    token: str | None,
    embedder: str | None,
    limit: int,
    offset: int,
    name: str | None,
    as_json: bool,
) -> None:
    """List the users of a store.

    \b
    memory-integrations users --path agent-memory.sqlite3
    memory-integrations users --url http://127.0.0.1:8080 --token $TOKEN --json
    """
    with open_store(location, embedder=embedder, token=token) as client:
        page = client.list_users(name=name, limit=limit, offset=offset)
    if as_json:
        print_json(page.model_dump(mode="json"))
        return
    if not page.users:
        click.echo(f"no users{' from offset ' + str(offset) if offset else ''}", err=True)
        return
    rows = [
        [u.id, clip(u.name, 30), str(len(u.sessions or [])), when(u.created_at)] for u in page.users
    ]
    print_table(["USER", "NAME", "SESSIONS", "CREATED (UTC)"], rows)
    print_page(page.count, offset, page.total, "users")


@click.command("sessions")
@click.argument("user_id", metavar="USER")
@store_options(required=False, server=True)
@_limit(50, 500)
@_OFFSET
@_JSON
def sessions_cmd(
    user_id: str,
    location: str,
    token: str | None,
    embedder: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List the sessions of USER.

    \b
    memory-integrations sessions demo-traveller --path agent-memory.sqlite3
    """
    with open_store(location, embedder=embedder, token=token) as client:
        page = client.get_user(user_id).list_sessions(limit=limit, offset=offset)
    if as_json:
        print_json(page.model_dump(mode="json"))
        return
    if not page.sessions:
        click.echo(f"user {user_id!r} has no sessions", err=True)
        return
    rows = [
        [
            s.session_id,
            when(s.start_time),
            when(s.end_time),
            "-" if not s.blocks_ttl else f"{s.blocks_ttl}s",
            ", ".join(f"{k}={v}" for k, v in (s.annotations or {}).items()) or "-",
        ]
        for s in page.sessions
    ]
    print_table(["SESSION", "STARTED (UTC)", "ENDED", "TTL", "ANNOTATIONS"], rows)
    print_page(page.count, offset, page.total, "sessions")


@click.command("blocks")
@click.argument("user_id", metavar="USER")
@click.argument("session_id", metavar="[SESSION]", required=False)
@store_options(required=False, server=True)
@_limit(20, 200)
@_OFFSET
@click.option(
    "--order-by",
    type=click.Choice(["ingested_at", "created_at"]),
    default="ingested_at",
    show_default=True,
    help="Oldest first by this time.",
)
@_JSON
def blocks_cmd(
    user_id: str,
    session_id: str | None,
    location: str,
    token: str | None,
    embedder: str | None,
    limit: int,
    offset: int,
    order_by: str,
    as_json: bool,
) -> None:
    """List the memory blocks of USER (all sessions, or SESSION), oldest first.

    \b
    memory-integrations blocks demo-traveller
    memory-integrations blocks demo-traveller conversation-1-20250501-101500 --limit 5
    """
    with open_store(location, embedder=embedder, token=token) as client:
        user = client.get_user(user_id)
        if session_id is not None:
            page = user.get_session(session_id).list_memories(
                limit=limit, offset=offset, order_by=order_by
            )
        else:
            page = user.list_memories(limit=limit, offset=offset, order_by=order_by)
    if as_json:
        body = page.model_dump(mode="json", exclude={"memory_blocks"})
        print_json({**body, "memory_blocks": [_block_json(b) for b in page.memory_blocks]})
        return
    if not page.memory_blocks:
        where = f"session {session_id!r} of " if session_id else ""
        click.echo(f"{where}user {user_id!r} has no memory blocks", err=True)
        return
    rows = [
        [b.block_id, b.session_id, b.kind, b.status.value, when(b.ingested_at), _block_text(b)]
        for b in page.memory_blocks
    ]
    print_table(["BLOCK", "SESSION", "KIND", "STATUS", "INGESTED (UTC)", "TEXT"], rows)
    print_page(page.count, offset, page.total, "blocks")


@click.command("search")
@click.argument("user_id", metavar="USER")
@click.argument("query")
@store_options(required=False, server=True)
@click.option(
    "--session",
    "sessions",
    multiple=True,
    metavar="SESSION",
    help="Search only this session (repeatable). Default: every session of USER.",
)
@click.option(
    "-k",
    "--limit",
    "limit",
    default=10,
    show_default=True,
    type=click.IntRange(1, MAX_RELEVANT_K),
    help="At most this many results, best first.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(-1.0, 1.0),
    default=None,
    help="Only results at least this similar (cosine, -1..1).",
)
@_JSON
def search_cmd(
    user_id: str,
    query: str,
    location: str,
    token: str | None,
    embedder: str | None,
    sessions: tuple[str, ...],
    limit: int,
    threshold: float | None,
    as_json: bool,
) -> None:
    """Search USER's memory for QUERY, best match first.

    \b
    memory-integrations search demo-traveller "where do I sit on planes?"
    """
    filters: dict[str, Any] = {
        "session_ids": list(sessions) if sessions else "all",
        "relevant_k": limit,
    }
    if threshold is not None:
        filters["threshold"] = threshold
    with open_store(location, embedder=embedder, token=token, embeds=True) as client:
        user = client.get_user(user_id)
        for session in sessions:
            user.get_session(session)  # a clear "does not exist" instead of no results
        found = user.search_memory(query, filters)
    if as_json:
        print_json(
            {"count": found.count, "memory_blocks": [_block_json(b) for b in found.memory_blocks]}
        )
        return
    if not found.memory_blocks:
        click.echo(f"nothing in the memory of {user_id!r} matches", err=True)
        return
    rows = [
        [
            "-" if b.rel_score is None else f"{b.rel_score:.3f}",
            b.block_id,
            b.session_id,
            _block_text(b),
        ]
        for b in found.memory_blocks
    ]
    print_table(["SCORE", "BLOCK", "SESSION", "TEXT"], rows)


COMMANDS = (users_cmd, sessions_cmd, blocks_cmd, search_cmd)
