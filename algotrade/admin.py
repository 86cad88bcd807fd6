"""Creating the first admin from the command line."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from shared.config import Settings
from shared.db import create_engine, create_sessionmaker, transaction
from shared.models import AuditEntry, Role, User
from shared.security.passwords import MAX_LENGTH, MIN_LENGTH, PasswordHasher


async def ensure_admin(settings: Settings, email: str, password: str, full_name: str) -> bool:
    """Create ``email`` as admin, or promote it; True when created."""
    if not (MIN_LENGTH <= len(password) <= MAX_LENGTH):
        raise ValueError(f"password must be {MIN_LENGTH} to {MAX_LENGTH} characters")
    if "@" not in email:
        raise ValueError("not an e-mail address")
    engine = create_engine(settings, url=settings.migration_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            user = await session.scalar(select(User).where(User.email == email.lower()))
            created = user is None
            if user is None:
                user = User(
                    email=email.lower(),
                    full_name=full_name,
                    password_hash=await PasswordHasher().hash(password),
                )
                session.add(user)
            user.role = Role.ADMIN
            user.is_active = True
            await session.flush()
            session.add(
                AuditEntry(
                    ts=datetime.now(UTC),
                    actor_id=user.id,
                    action="admin.created_from_cli",
                    target_type="user",
                    target_id=str(user.id),
                    details={"created": created},
                )
            )
        return created
    finally:
        await engine.dispose()
