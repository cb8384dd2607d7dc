#!/usr/bin/env python3
"""The extension's schema as a normalised text, and a comparison of two.

    schema.py snapshot PG_DUMP CONNINFO OUT   write the snapshot of a database
    schema.py compare EXPECTED ACTUAL          exit 1 and name every difference

A snapshot is every object of the extension as `pg_dump --schema-only
--binary-upgrade` prints it (that mode prints extension members one by one,
with their `ALTER EXTENSION … ADD`, instead of a bare CREATE EXTENSION),
restricted to the `scim` schema and the extension itself, with what differs
between two databases holding the same schema removed (OIDs, relfilenodes,
attribute versions, sequence positions, stored defaults of added columns,
the dump's random \\restrict key), plus what pg_dump leaves out: the
extension's roles (attributes and memberships) and its configuration tables
(pg_extension_config_dump) by name. Entries are keyed by pg_dump's
"Name; Type; Schema" header and sorted, so `compare` reports each object
that is missing, extra or different by that key (scripts/test step
`upgrade`: an upgraded database against a fresh install).
"""
import difflib
import re
import subprocess
import sys

HEADER = re.compile(r"^-- (?:Data for )?Name: (?P<name>.*?); Type: (?P<type>.*?); Schema: (?P<schema>.*?); Owner: .*$")
# Physical details of a dump entry that two databases with the same schema
# do not share: dropped by line.
PHYSICAL = re.compile(
    r"^SELECT pg_catalog\.binary_upgrade_set_(next_|missing_value|record_init_privs)"
    r"|^-- For binary upgrade|^-- set missing value|^\\(un)?restrict "
    # relfrozenxid of each table: UPDATE pg_catalog.pg_class / SET … / WHERE oid = …
    r"|^UPDATE pg_catalog\.pg_class$|^SET relfrozenxid = |^WHERE oid = "
)
EMPTY_EXTENSION = re.compile(r"binary_upgrade_create_empty_extension\('scim_pg', ('[^']*'), (\w+), ('[^']*'), '\{[0-9,]*\}', '\{[^']*\}'")


def psql(conninfo, sql):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def dump_entries(pg_dump, conninfo):
    text = subprocess.run([pg_dump, "--schema-only", "--binary-upgrade",
                           "-d", conninfo], check=True, capture_output=True, text=True).stdout
    entries, key, body = {}, None, []

    def flush():
        if key is None:
            return
        lines = [l for l in body if l.strip() and not l.startswith("--") and not PHYSICAL.match(l)]
        lines = [EMPTY_EXTENSION.sub(r"binary_upgrade_create_empty_extension('scim_pg', \1, \2, \3, <config tables below>", l)
                 for l in lines]
        entries.setdefault(key, []).extend(lines)

    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            flush()
            name, typ, schema = m.group("name"), m.group("type"), m.group("schema")
            keep = schema == "scim" or (typ == "EXTENSION" and name == "scim_pg") \
                or (typ in ("SCHEMA", "ACL", "COMMENT") and name in ("scim", "SCHEMA scim", "EXTENSION scim_pg"))
            # sequence positions are data, not schema
            key = f"{typ} {name}" if keep and typ != "SEQUENCE SET" else None
            body = []
        else:
            body.append(line)
    flush()
    return entries


def catalog_entries(conninfo):
    entries = {}
    for row in psql(conninfo, r"""
        SELECT r.rolname, concat_ws(' ', CASE WHEN r.rolsuper THEN 'SUPERUSER' END,
               CASE WHEN r.rolinherit THEN 'INHERIT' ELSE 'NOINHERIT' END,
               CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END, CASE WHEN r.rolcreatedb THEN 'CREATEDB' END,
               CASE WHEN r.rolcanlogin THEN 'LOGIN' ELSE 'NOLOGIN' END,
               CASE WHEN r.rolreplication THEN 'REPLICATION' END, CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END,
               'CONNECTION LIMIT ' || r.rolconnlimit,
               'MEMBER OF {' || (SELECT string_agg(g.rolname, ',' ORDER BY g.rolname)
                                   FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                                  WHERE m.member = r.oid) || '}',
               'CONFIG ' || array_to_string(r.rolconfig, ','))
          FROM pg_roles r WHERE r.rolname LIKE 'scim\_%' ORDER BY 1"""):
        name, attrs = row.split("|", 1)
        entries[f"ROLE {name}"] = [attrs]
    entries["EXTENSION CONFIG scim_pg"] = psql(conninfo, r"""
        SELECT c.relid::regclass || ' ' || quote_literal(c.cond)
          FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS c(relid, cond)
         WHERE e.extname = 'scim_pg' ORDER BY 1""")
    entries["EXTENSION VERSION scim_pg"] = psql(conninfo, "SELECT extversion FROM pg_extension WHERE extname = 'scim_pg'")
    return entries


def snapshot(pg_dump, conninfo, out):
    entries = dump_entries(pg_dump, conninfo)
    entries.update(catalog_entries(conninfo))
    with open(out, "w") as f:
        for key in sorted(entries):
            f.write(f"=== {key}\n")
            for line in entries[key]:
                f.write(f"    {line}\n")


def read(path):
    entries, key = {}, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("=== "):
                key = line[4:]
                entries[key] = []
            else:
                entries[key].append(line[4:])
    return entries


def compare(expected_path, actual_path):
    expected, actual = read(expected_path), read(actual_path)
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    differ = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    for k in missing:
        print(f"MISSING  {k}")
        for line in expected[k]:
            print(f"    {line}")
    for k in extra:
        print(f"EXTRA    {k}")
        for line in actual[k]:
            print(f"    {line}")
    for k in differ:
        print(f"DIFFERS  {k}")
        for line in difflib.unified_diff(expected[k], actual[k], "expected", "actual", lineterm="", n=2):
            if not line.startswith(("---", "+++")):
                print(f"    {line}")
    total = len(missing) + len(extra) + len(differ)
    summary = f"{len(expected)} objects expected: {len(missing)} missing, {len(extra)} extra, {len(differ)} different"
    print(("schema differs: " if total else "schema identical: ") + summary)
    return 1 if total else 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "snapshot":
        snapshot(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
