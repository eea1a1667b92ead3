"""Session fixtures for the deployment tests: one real PostgreSQL cluster and one `chroma run` server.

Each is started once per session, only when a test asks for it; when the binaries are missing the
test is skipped with the reason (`make test` installs Debian's postgresql when it can).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.services import Postgres, chroma_server, find_chroma, find_postgres, postgres_cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Postgres]:
    folder, reason = find_postgres()
    if folder is None:
        pytest.skip(reason)
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture
def database_url(pg_cluster: Postgres) -> str:
    """A fresh, empty database of the session's cluster for one test."""
    return pg_cluster.create_database()


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe, reason = find_chroma()
    if exe is None:
        pytest.skip(reason)
    folder: Path = tmp_path_factory.mktemp("chroma-shared")
    with chroma_server(folder) as url:
        yield url
