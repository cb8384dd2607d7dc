"""Case-insensitive names are Unicode caseless matches (scim.fold) in every
database locale: racing creates of case variants (non-ASCII, NFC/NFD) give
exactly one winner, also in a database whose LC_CTYPE is C, where Postgres
lower() would leave 'Ä' and 'ä' apart (issue 19)."""

import json
import unicodedata
import uuid

import psycopg
import pytest
from psycopg import sql as pgsql

from scimhttp import Scim, assert_error, ids, run_parallel, uniq, user_body

THREADS = 8


def variants(base: str) -> list[str]:
    """Eight spellings of one caseless name: cases, ß/SS/ẞ, NFC/NFD."""
    nfd = unicodedata.normalize("NFD", base)
    return [base, base.upper(), base.lower(), base.swapcase(), nfd, nfd.upper(),
            base.replace("ß", "SS"), base.upper().replace("SS", "ẞ")]


@pytest.fixture(scope="module")
def c_database(database_url):
    """A scratch database with LC_CTYPE/LC_COLLATE C and the extension."""
    name = f"scim_http_c_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(pgsql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' "
                                "LC_COLLATE 'C' LC_CTYPE 'C'").format(pgsql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(database_url, dbname=name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_trgm")
            conn.execute("CREATE EXTENSION scim_pg")
            assert conn.execute("SELECT current_setting('lc_ctype')").fetchone()[0] == "C"
            # the locale's own lower() would not match the variants
            assert conn.execute("SELECT lower('Ä') <> 'ä'").fetchone()[0]
        yield url
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))


def race_sql(url: str, call: str, bodies: list[dict]):
    """Each body in its own connection, all released at once; returns
    ('ok', None) or ('error', (sqlstate, detail)) per body."""
    conns = [psycopg.connect(url, autocommit=True) for _ in bodies]
    try:
        def attempt(i):
            def fn():
                try:
                    conns[i].execute(f"SELECT {call}(%s::jsonb)", (json.dumps(bodies[i]),))
                    return ("ok", None)
                except psycopg.Error as e:
                    return ("error", (e.sqlstate, e.diag.message_detail))
            return fn

        return run_parallel([attempt(i) for i in range(len(bodies))])
    finally:
        for c in conns:
            c.close()


def assert_one_winner(results):
    oks = [r for r in results if r[0] == "ok"]
    errors = [r[1] for r in results if r[0] == "error"]
    assert len(oks) == 1, results
    assert len(errors) == THREADS - 1, results
    for sqlstate, detail in errors:
        assert sqlstate == "23505", results
        assert json.loads(detail) == {"status": 409, "scimType": "uniqueness"}, results


@pytest.mark.parametrize("base", ["Ärger-Straße-{}@x.example", "Σίσυφος-Ёж-{}", "É-{}-🎉"])
def test_racing_case_variant_creates_in_a_c_database_one_wins(c_database, base):
    name = base.format(uuid.uuid4().hex[:8])
    results = race_sql(c_database, "scim.scim_create_user", [{"userName": v} for v in variants(name)])
    assert_one_winner(results)
    with psycopg.connect(c_database) as conn:
        n = conn.execute("SELECT count(*) FROM scim.users WHERE scim.fold(user_name) = scim.fold(%s)",
                         (name,)).fetchone()[0]
        assert n == 1
        # SQL path and in-memory path agree on the winner, for every variant
        for v in variants(name):
            flt = f'userName eq "{v}"'
            listed, matched = conn.execute(
                "SELECT (scim.scim_list('User', %s, 1, 10))->'totalResults', "
                "(SELECT count(*) FROM scim.users u WHERE scim.scim_matches(scim.scim_get('User', u.id::text), %s))",
                (flt, flt)).fetchone()
            assert (listed, matched) == (1, 1), v


def test_racing_group_variants_in_a_c_database_one_wins(c_database):
    name = f"Größe-{uuid.uuid4().hex[:8]}"
    results = race_sql(c_database, "scim.scim_create_group", [{"displayName": v} for v in variants(name)])
    assert_one_winner(results)


def test_racing_case_variant_creates_over_http_one_201(scim):
    name = uniq("Ärger-Straße")
    cs = [Scim(scim.base, scim.token) for _ in range(THREADS)]
    names = variants(name)
    rs = run_parallel([(lambda i=i: cs[i].post("/Users", user_body(names[i]))) for i in range(THREADS)])
    codes = sorted(r.status_code for r in rs)
    assert codes.count(201) == 1 and codes.count(409) == THREADS - 1, [(r.status_code, r.text[:200]) for r in rs]
    winner = next(r.json() for r in rs if r.status_code == 201)
    for v in names:
        assert ids(scim.list("Users", filter=f'userName eq "{v}"')) == [winner["id"]], v
    assert_error(scim.post("/Users", user_body(name.upper().replace("SS", "ẞ"))), 409, "uniqueness")
