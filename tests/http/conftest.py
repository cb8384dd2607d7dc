"""Fixtures for the black-box SCIM tests.

The suite talks to a running gateway (SCIM_BASE_URL, e.g.
http://127.0.0.1:18080/scim/v2) and issues tokens / creates tenants through
SQL on the same database (SCIM_DATABASE_URL). Every test makes its own
resources with unique names, so the suite can be re-run on the same
database and tests do not depend on each other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import psycopg
import pytest

from scimhttp import Scim, uniq


@dataclass
class Tenant:
    name: str | None  # None: the default tenant
    token: str
    client: Scim


@pytest.fixture(scope="session")
def base_url() -> str:
    url = os.environ.get("SCIM_BASE_URL")
    if not url:
        pytest.exit("SCIM_BASE_URL is not set (run through scripts/test)", returncode=4)
    return url.rstrip("/")


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("SCIM_DATABASE_URL")
    if not url:
        pytest.exit("SCIM_DATABASE_URL is not set (run through scripts/test)", returncode=4)
    return url


@pytest.fixture(scope="session")
def sql(database_url) -> Callable:
    """sql(query, params=(), tenant=None) → rows. Runs on a fresh
    autocommit connection with `scim.tenant` set when a tenant is given."""

    def run(query: str, params=(), tenant: str | None = None):
        with psycopg.connect(database_url, autocommit=True) as conn:
            if tenant is not None:
                conn.execute("SELECT set_config('scim.tenant', %s, false)", (tenant,))
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    return run


@pytest.fixture(scope="session")
def issue_token(sql) -> Callable:
    def issue(tenant: str | None = None, label: str | None = None) -> str:
        return sql("SELECT scim.scim_token_issue(%s)", (label or uniq("pytest"),), tenant=tenant)[0][0]

    return issue


@pytest.fixture(scope="session")
def revoke_token(sql) -> Callable:
    """Revoke the token with this label (label → id through scim_tokens())."""

    def revoke(label: str, tenant: str | None = None) -> None:
        rows = sql("SELECT id FROM scim.scim_tokens() WHERE label = %s", (label,), tenant=tenant)
        assert len(rows) == 1, rows
        sql("SELECT scim.scim_token_revoke(%s)", (rows[0][0],), tenant=tenant)

    return revoke


@pytest.fixture(scope="session")
def new_tenant(sql, issue_token, base_url) -> Callable[[], Tenant]:
    """new_tenant() → a freshly created tenant with its own token."""

    def make(prefix: str = "pytest-tenant") -> Tenant:
        name = uniq(prefix)
        sql("SELECT scim.scim_tenant_create(%s)", (name,))
        token = issue_token(tenant=name)
        return Tenant(name, token, Scim(base_url, token))

    return make


@pytest.fixture(scope="session")
def token(issue_token) -> str:
    """A fresh token for the default tenant (one per test session)."""
    return issue_token()


@pytest.fixture(scope="session")
def scim(base_url, token) -> Scim:
    """Client for the default tenant."""
    return Scim(base_url, token)


@pytest.fixture(scope="session")
def tenant_b(new_tenant) -> Tenant:
    """A second tenant, with its own token."""
    return new_tenant("pytest-b")


@pytest.fixture(scope="session")
def anon(base_url) -> Scim:
    """Client without credentials."""
    return Scim(base_url)


@pytest.fixture
def unique() -> Callable[[str], str]:
    return uniq
