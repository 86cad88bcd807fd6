"""``algotrade users``: listing, disabling, enabling and roles, through the admin service."""

from __future__ import annotations

import json

from shared.contracts import CHANNEL_CONTROL, ControlEvent
from shared.models import AuditEntry, Role, TokenFamily, User
from shared.outbox import unpack
from tests.algotrade.conftest import rows


def _add_user(cli, email, role=Role.ADMIN):
    """A user written straight to the database, as an older create-admin could."""

    async def add(session):
        session.add(User(email=email, password_hash="-", role=role))
        await session.commit()

    cli.db(add)


def test_users_list_shows_every_user(cli):
    result = cli("users", "list")

    assert result.exit_code == 0, result.output
    assert cli.book.trader_email in result.stdout
    assert cli.book.admin_email in result.stdout


def test_users_list_json_is_a_page_filtered_by_role(cli):
    result = cli("users", "list", "--role", "admin", "--json")

    page = json.loads(result.stdout)
    assert [u["email"] for u in page["items"]] == [cli.book.admin_email]
    assert (page["total"], page["offset"]) == (1, 0)


def test_disable_ends_the_users_sessions_and_is_audited_with_the_acting_admin(cli):
    result = cli("users", "disable", cli.book.trader_email, "--as", cli.book.admin_email, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["is_active"] is False
    families = rows(cli, TokenFamily, TokenFamily.user_id == cli.book.trader_id)
    assert families and all(f.revoked_at is not None for f in families)
    [admin] = rows(cli, User, User.email == cli.book.admin_email)
    [entry] = rows(cli, AuditEntry, AuditEntry.action == "user.disabled_by_admin")
    assert (entry.actor_id, entry.target_id) == (admin.id, str(cli.book.trader_id))
    assert entry.ip_address.startswith("cli:")


def test_disable_in_the_embedded_profile_leaves_its_event_for_the_running_platform(cli):
    cli("users", "disable", str(cli.book.trader_id))

    [batch] = cli.outbox()
    [(channel, event)] = unpack(batch.messages)
    assert channel == CHANNEL_CONTROL
    assert (event.action, event.user_id) == ("session_revoked", cli.book.trader_id)


def test_disable_with_a_shared_bus_publishes_the_session_revocation(cli):
    bus = cli.as_distributed()

    cli("users", "disable", str(cli.book.trader_id))

    [(kind, channel, event)] = bus.sent
    assert (kind, channel) == ("publish", CHANNEL_CONTROL)
    assert isinstance(event, ControlEvent) and event.action == "session_revoked"
    assert cli.outbox() == []


def test_enable_lets_a_disabled_user_back(cli):
    cli("users", "disable", cli.book.trader_email)

    result = cli("users", "enable", cli.book.trader_email, "--json")

    assert json.loads(result.stdout)["is_active"] is True
    assert rows(cli, AuditEntry, AuditEntry.action == "admin.user_enable")


def test_role_promotes_a_trader(cli):
    result = cli("users", "role", cli.book.trader_email, "admin", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["role"] == "admin"
    [entry] = rows(cli, AuditEntry, AuditEntry.action == "admin.user_role")
    assert entry.actor_id is None  # the system actor
    assert entry.details == {"from": "trader", "to": "admin"}


def test_the_last_admin_cannot_be_demoted(cli):
    result = cli("users", "role", cli.book.admin_email, "trader", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stderr)["code"] == "last_admin"


def test_an_admin_who_cannot_sign_in_does_not_count_as_another_admin(cli):
    _add_user(cli, "x@probe.local")  # an address the login refuses

    result = cli("users", "role", cli.book.admin_email, "trader", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stderr)["code"] == "last_admin"


def test_an_admin_who_cannot_sign_in_may_be_demoted(cli):
    _add_user(cli, "x@probe.local")

    result = cli("users", "role", "x@probe.local", "trader")

    assert result.exit_code == 0, result.output


def test_the_last_admin_cannot_be_disabled(cli):
    result = cli("users", "disable", cli.book.admin_email)

    assert result.exit_code == 1
    assert "last active admin" in result.stderr
    assert rows(cli, User, User.email == cli.book.admin_email)[0].is_active is True


def test_acting_as_a_trader_is_refused(cli):
    result = cli("users", "disable", cli.book.admin_email, "--as", cli.book.trader_email)

    assert result.exit_code == 1
    assert "not an active admin" in result.stderr


def test_an_unknown_user_is_reported(cli):
    result = cli("users", "enable", "nobody@example.com", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stderr)["code"] == "user_not_found"
