"""One embedded platform for every browser test of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.browser import embedded_platform


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from embedded_platform(tmp_path_factory.mktemp("platform"))
