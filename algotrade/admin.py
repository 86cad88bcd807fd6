"""Creating the first admin from the command line."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import select

from algotrade.console import validation_message
from api_gateway.schemas.auth import RegisterIn
from shared.config import Settings
from shared.db import create_engine, create_sessionmaker, transaction
from shared.models import AuditEntry, Role, User
from shared.security.passwords import PasswordHasher


def validate_sign_up(email: str, password: str, full_name: str) -> RegisterIn:
    """The API's sign-up schema applied to the admin's details (ValueError when refused), so
    an admin made here can sign in like any user: an address the API refuses could not."""
    try:
        return RegisterIn(email=email, password=password, full_name=full_name)
    except ValidationError as exc:
        raise ValueError(validation_message(exc)) from exc


async def ensure_admin(settings: Settings, email: str, password: str, full_name: str) -> bool:
    """Create ``email`` as admin, or promote it; True when created."""
    details = validate_sign_up(email, password, full_name)
    email, password, full_name = details.email, details.password, details.full_name
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
