"""create-admin applies the API's sign-up rules, so every admin it makes can sign in (F10)."""

from __future__ import annotations

import pytest
from sqlalchemy import func

from shared.models import User
from tests.algotrade.conftest import rows

GOOD_PASSWORD = "admin password 123"


@pytest.mark.parametrize("email", ["x@probe.local", "root@localhost", "no-at-sign"])
def test_create_admin_refuses_an_address_the_sign_up_refuses(cli, email):
    result = cli("create-admin", "--email", email, "--password", GOOD_PASSWORD)

    assert result.exit_code == 2
    assert "email" in result.stderr
    assert rows(cli, User, func.lower(User.email) == email.lower()) == []


def test_create_admin_refuses_a_password_the_sign_up_refuses(cli):
    result = cli("create-admin", "--email", "root@example.com", "--password", "short")

    assert result.exit_code == 2
    assert "password" in result.stderr
    assert rows(cli, User, User.email == "root@example.com") == []


def test_create_admin_makes_an_admin_with_a_valid_address(cli):
    result = cli("create-admin", "--email", "Root@Example.com", "--password", GOOD_PASSWORD)

    assert result.exit_code == 0, result.output
    [admin] = rows(cli, User, User.email == "root@example.com")
    assert (admin.role, admin.is_active) == ("admin", True)
