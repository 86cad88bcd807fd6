"""Repository bases: user-owned rows are reached only through a repository bound to the user."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound
from shared.models.base import Base

M = TypeVar("M", bound=Base)


class Page(Generic[M]):
    """One page of rows and the total count behind it."""

    def __init__(self, items: Sequence[M], total: int, limit: int, offset: int) -> None:
        self.items = list(items)
        self.total = total
        self.limit = limit
        self.offset = offset


async def paginate(session: AsyncSession, stmt: Select[M], limit: int, offset: int) -> Page[M]:
    """A page of ``stmt``'s rows and their total. A page that is not full, and is not
    past the end, tells its total itself: only a full or an empty later page counts."""
    rows = (await session.scalars(stmt.limit(limit).offset(offset))).all()
    if len(rows) < limit and (rows or offset == 0):
        return Page(rows, offset + len(rows), limit, offset)
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return Page(rows, int(total or 0), limit, offset)


class UserScopedRepository(Generic[M]):
    """Every query starts from ``_scoped()``, which filters by the owning user.

    A row of another user is indistinguishable from a row that does not exist:
    both raise ``NotFound`` (rendered as 404).
    """

    model: ClassVar[type[Base]]
    not_found_message: ClassVar[str] = "not found"

    def __init__(self, session: AsyncSession, user_id: int) -> None:
        self.session = session
        self.user_id = user_id

    def _scoped(self) -> Select[Any]:
        return select(self.model).where(self.model.user_id == self.user_id)  # type: ignore[attr-defined]

    async def get(self, row_id: int, *, for_update: bool = False) -> M:
        stmt = self._scoped().where(self.model.id == row_id)  # type: ignore[attr-defined]
        if for_update:
            stmt = stmt.with_for_update()
        row = await self.session.scalar(stmt)
        if row is None:
            raise NotFound(self.not_found_message)
        return row  # type: ignore[no-any-return]

    async def list(self, limit: int, offset: int, *where: Any, order_by: Any = None) -> Page[M]:
        stmt = self._scoped().where(*where)
        stmt = stmt.order_by(order_by if order_by is not None else self.model.id.desc())  # type: ignore[attr-defined]
        return await paginate(self.session, stmt, limit, offset)

    def add(self, row: M) -> M:
        if getattr(row, "user_id", None) not in (None, self.user_id):
            raise ValueError("row belongs to another user")
        row.user_id = self.user_id  # type: ignore[attr-defined]
        self.session.add(row)
        return row

    async def delete(self, row: M) -> None:
        await self.session.delete(row)
