"""Units of work await their own SQL only: side effects come after the commit.

A unit of work (``async with ….db.write() as s``) holds a pooled connection, its rows' locks
and, on SQLite, the database's write lock until it ends. Awaiting anything but its own SQL in
there (a bus or Redis publish, a websocket send, Janus, a sleep, a lock, another task) would
hold all of that for as long as the network takes; ``bench/day.py`` saw the pool run dry that
way. (The audit chain's own lock is taken at commit, ``audit.store``, so it is safe either way.)

This walks every use case in the hub's source: inside a ``write()`` block, and in every
function that takes an ``AsyncSession`` (the helpers a unit of work calls), each ``await`` must
be a call on the session or a call that is handed the session (checked the same way where it
is defined). What a unit of work must announce is noted in the session's ``info`` and told by
the commit listeners (``db.engine``), or done by the use case after its ``async with``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "evaluation_hub"

# (module, function, what is awaited): awaits that are not SQL, each with the reason it may be.
ALLOWED = {
    # The package's files are read and their digest checked in a thread, before any change;
    # it is disk, not the network, and holds no audit lock.
    ("evaluation_hub/evaluation/context.py", "load_context", "asyncio.to_thread"),
}


def _names(expr: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}


def _handed(call: ast.Call, sessions: set[str]) -> bool:
    """A call on a session (``s.execute``) or one that is handed a session."""
    if isinstance(call.func, ast.Attribute) and _names(call.func.value) & sessions:
        base = call.func.value
        if isinstance(base, ast.Name) and base.id in sessions:
            return True
    args = [*call.args, *(k.value for k in call.keywords)]
    return any(isinstance(a, ast.Name) and a.id in sessions for a in args)


def _offences(body: list[ast.stmt], sessions: set[str]) -> Iterator[tuple[int, str]]:
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Await):
                call = node.value
                if not (isinstance(call, ast.Call) and _handed(call, sessions)):
                    yield node.lineno, ast.unparse(call)
            elif isinstance(node, ast.AsyncFor):
                yield node.lineno, f"async for … in {ast.unparse(node.iter)}"
            elif isinstance(node, ast.AsyncWith):
                for item in node.items:
                    ctx = item.context_expr
                    nested = isinstance(ctx, ast.Call) and _handed(ctx, sessions)
                    if not nested:
                        yield node.lineno, f"async with {ast.unparse(ctx)}"


def _session_params(fn: ast.AsyncFunctionDef) -> set[str]:
    params = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
    return {
        a.arg
        for a in params
        if a.annotation is not None
        and ast.unparse(a.annotation) in {"AsyncSession", "AsyncSession | None"}
    }


def _is_write(item: ast.withitem) -> bool:
    ctx = item.context_expr
    return (
        isinstance(ctx, ast.Call)
        and isinstance(ctx.func, ast.Attribute)
        and ctx.func.attr == "write"
        and isinstance(item.optional_vars, ast.Name)
    )


def offences(path: Path, source: str) -> list[str]:
    rel = path.relative_to(ROOT).as_posix()
    found = []
    tree = ast.parse(source)
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.AsyncFunctionDef):
            continue
        units: list[tuple[list[ast.stmt], set[str]]] = []
        if sessions := _session_params(fn):
            units.append((fn.body, sessions))
        for node in ast.walk(fn):
            if isinstance(node, ast.AsyncWith):
                for item in node.items:
                    if _is_write(item):
                        assert isinstance(item.optional_vars, ast.Name)
                        units.append((node.body, {item.optional_vars.id}))
        for body, sessions in units:
            for line, what in _offences(body, sessions):
                if not any((rel, fn.name) == (m, f) and what.startswith(w) for m, f, w in ALLOWED):
                    found.append(f"{rel}:{line} in {fn.name}: await {what}")
    return sorted(set(found))


def test_units_of_work_await_only_their_own_sql() -> None:
    found = [
        offence
        for path in sorted(HUB.rglob("*.py"))
        if "migrations" not in path.parts
        for offence in offences(path, path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_walk_finds_a_publish_inside_a_unit_of_work() -> None:
    """The walk itself: what it must catch, and what it must let through."""
    source = """
async def book(hub, actor, *, now):
    async with hub.db.write() as s:
        await s.execute(statement)
        await append_event(s, kind="k", subject="x", actor="a", payload={}, at=now)
        await hub.bus.publish("bookings", "made")
    await hub.seats.send("KM.1", message)

async def helper(s: AsyncSession, hub):
    await s.flush()
    await hub.seats.send("KM.1", message)

async def nested(s: AsyncSession):
    async with s.begin_nested():
        await s.flush()
"""
    found = offences(HUB / "example.py", source)
    assert found == [
        "evaluation_hub/example.py:11 in helper: await hub.seats.send('KM.1', message)",
        "evaluation_hub/example.py:6 in book: await hub.bus.publish('bookings', 'made')",
    ]
