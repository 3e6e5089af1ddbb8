"""What every repository shares: the session of its unit of work and dialect-aware inserts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import (
    CursorResult,
    Executable,
    Insert,
    Result,
    Table,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from storage.models import Base

R = TypeVar("R")
E = TypeVar("E", bound=Base)

# Statements on the path of every update, built once per dialect with bound parameters.
# Building one (an upsert's EXCLUDED alias alone makes a dozen column proxies) and deriving
# its cache key cost more CPU than running it; a prebuilt statement does neither again.
_PREBUILT: dict[tuple[str, str], Executable] = {}


def rowcount(result: Result[Any]) -> int:
    """Rows an INSERT, UPDATE or DELETE touched.

    AsyncSession.execute is typed as returning Result; for DML it is a CursorResult.
    """
    return int(cast(CursorResult[Any], result).rowcount or 0)


class Repository:
    """One aggregate's reads and writes over the session of one unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _lock_row(self, model: Any, key: Any) -> None:
        """Serialise "max + 1" numbering on PostgreSQL (SQLite uses BEGIN IMMEDIATE)."""
        if self.session.bind and self.session.bind.dialect.name == "postgresql":
            await self.session.execute(select(model.id).where(model.id == key).with_for_update())

    async def _insert_if_missing(self, model: type, **values: Any) -> bool:
        """INSERT … ON CONFLICT DO NOTHING; True if the row was new.

        Two instances (or two updates) may make first contact at once: both succeed, and
        no unique-key error (or savepoint to survive one) is needed.
        """
        result = await self.session.execute(
            self._insert(model).values(**values).on_conflict_do_nothing()
        )
        return rowcount(result) == 1

    async def _run_prebuilt(
        self,
        name: str,
        build: Callable[[Any], Executable],
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    ) -> CursorResult[Any]:
        """Run the statement `build(insert)` makes, built once per dialect, on this unit of
        work's connection (Core, no ORM: the caller wants a few columns, not entities).

        With a list of parameter sets, an INSERT is one multi-row statement (SQLAlchemy's
        "insertmanyvalues"), RETURNING included."""
        statement = self._prebuilt(name, build)
        connection = await self.session.connection()
        if isinstance(params, Mapping):
            return await connection.execute(statement, dict(params))
        return await connection.execute(statement, [dict(p) for p in params])

    async def _execute_each(
        self, statement: Executable, params: Sequence[Mapping[str, Any]]
    ) -> None:
        """Run `statement` once per parameter set on this unit of work's connection: one
        set as a plain execute, several as one executemany (one trip to the driver)."""
        connection = await self.session.connection()
        if len(params) == 1:
            await connection.execute(statement, dict(params[0]))
        else:
            await connection.execute(statement, [dict(p) for p in params])

    async def _insert_entity(
        self, model: type[E], *, numbered: tuple[str, str] | None = None, **values: Any
    ) -> E:
        """INSERT one row in a Core statement, and hold it as a loaded entity of this session.

        The ORM's flush (its unit-of-work sort and per-object bookkeeping) cost more CPU than
        the INSERT itself on every photo's and refinement's path. Every column the caller
        leaves out gets its Python default here, so the row and the entity hold the same
        values without reading the row back; the entity then joins the session as if it had
        been loaded, with nothing left to flush.

        `numbered=(column, scope)`: `column` is the next number among the rows that share
        this row's `scope` (a shot's place in its project), taken inside the INSERT instead
        of read before it. Callers still serialise such inserts (BEGIN IMMEDIATE on SQLite,
        a row lock on PostgreSQL).
        """
        return (await self._insert_entities(model, [values], numbered=numbered))[0]

    async def _insert_entities(
        self,
        model: type[E],
        rows: Sequence[Mapping[str, Any]],
        *,
        numbered: tuple[str, str] | None = None,
        key: str | None = None,
    ) -> list[E]:
        """`_insert_entity` for rows that arrive together: one multi-row INSERT … RETURNING.

        `key`: a column whose value differs from row to row, returned with each row's id.
        Neither database promises RETURNING in the order of a multi-row VALUES, and
        SQLAlchemy would write the rows one statement each to keep that order on SQLite.

        Numbered rows that share a scope take consecutive numbers in the order given: each
        row's number is the scope's largest before the statement plus its place among them
        (a statement does not see its own rows, on either database).
        """
        if len(rows) > 1 and key is None:
            raise ValueError("rows inserted together need a key to tell them apart")
        table = cast(Table, model.__table__)
        taken = numbered[0] if numbered is not None else None  # the INSERT chooses it
        defaults = [
            column for column in table.columns if not column.primary_key and column.key != taken
        ]
        full: list[dict[str, Any]] = []
        params: list[dict[str, Any]] = []
        places: dict[Any, int] = {}
        for values in rows:
            row = dict(values)
            for column in defaults:
                if column.key in row:
                    continue
                default = column.default
                if default is None and column.server_default is not None:
                    raise ValueError(f"{table.name}.{column.key} has only a server default")
                row[column.key] = _python_default(default)
            full.append(row)
            if numbered is None:
                params.append(row)
            else:
                scope = row[numbered[1]]
                places[scope] = places.get(scope, 0) + 1
                params.append({**row, "_scope": scope, "_offset": places[scope]})
        statement = self._prebuilt(
            f"insert_entity:{table.name}:{numbered}:{key}",
            lambda _: _returning(table, numbered, key),
        )
        connection = await self.session.connection()
        if len(params) == 1:
            inserted = [(await connection.execute(statement, params[0])).one()]
        else:  # SQLAlchemy's "insertmanyvalues": one multi-row statement
            assert key is not None
            by_key = {row[-1]: row for row in await connection.execute(statement, params)}
            if len(by_key) != len(full):
                raise ValueError(f"{table.name}.{key} repeats among rows inserted together")
            inserted = [by_key[row[key]] for row in full]
        entities = []
        for row, returned in zip(full, inserted, strict=True):
            if taken is not None:
                row[taken] = returned[1]
            entity = model(id=returned[0], **row)
            make_transient_to_detached(entity)  # its values are what the row holds
            self.session.add(entity)
            entities.append(entity)
        return entities

    def _prebuilt(self, name: str, build: Callable[[Any], Executable]) -> Executable:
        """The statement `build(insert)` makes for this dialect, built the first time only."""
        dialect = self._dialect
        statement = _PREBUILT.get((name, dialect))
        if statement is None:
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            statement = _PREBUILT.setdefault((name, dialect), build(insert))
        return statement

    @property
    def _made_here(self) -> set[tuple[type, int]]:
        """The rows (model, id) inserted in this unit of work, whichever repository made
        them: nothing else can see them before the commit, so numbering them (a new
        project's first shot, a new shot's first revision) needs neither a lock nor a look
        at their siblings."""
        made: set[tuple[type, int]] = self.session.info.setdefault("made_here", set())
        return made

    def _keep(self, row: R) -> R:
        """Hold `row` for the rest of the unit of work.

        The session's identity map holds rows weakly: a row a use case read and let go of
        would be read again by the next repository that asks for it in the same unit of work.
        """
        if row is not None:
            self.session.info.setdefault("kept", []).append(row)
        return row

    def _insert(self, model: type) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        return (pg_insert if self._dialect == "postgresql" else sqlite_insert)(model)

    @property
    def _dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind else "sqlite"

    @property
    def _postgres(self) -> bool:
        return bool(self.session.bind and self.session.bind.dialect.name == "postgresql")


def _python_default(default: Any) -> Any:
    """A column's Python-side default value (SQLAlchemy wraps callables to take a context)."""
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


def _returning(table: Table, numbered: tuple[str, str] | None, key: str | None) -> Insert:
    """INSERT … RETURNING id (then the number it took, when it takes the next one, then
    the key that tells the row apart from the others inserted with it)."""
    returned = [table.c.id]
    statement = insert(table)
    if numbered is not None:
        column, scope = table.c[numbered[0]], table.c[numbered[1]]
        last = (
            select(func.coalesce(func.max(column), 0)).where(scope == bindparam("_scope"))
        ).scalar_subquery()
        statement = statement.values({column.key: last + bindparam("_offset")})
        returned.append(column)
    if key is not None:
        returned.append(table.c[key])
    return statement.returning(*returned)
