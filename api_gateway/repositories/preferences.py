"""Dashboard preferences, reachable only through the owning user's repository."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import UserPreferences


class PreferencesRepository:
    """The one preferences row of one user (keyed by the user, so no other row is reachable)."""

    def __init__(self, session: AsyncSession, user_id: int) -> None:
        self.session = session
        self.user_id = user_id

    async def get(self) -> UserPreferences | None:
        return await self.session.get(UserPreferences, self.user_id)

    async def save(
        self, watchlist: list[str], symbol: str | None, theme: str, layout: dict[str, object]
    ) -> UserPreferences:
        row = await self.get()
        if row is None:
            row = UserPreferences(user_id=self.user_id)
            self.session.add(row)
        row.watchlist = watchlist
        row.symbol = symbol
        row.theme = theme
        row.layout = layout
        await self.session.flush()
        return row
