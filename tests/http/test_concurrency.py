"""Concurrent writes: no lost membership updates, exactly one winner per
version with If-Match, racing duplicate creates give 409 (never 500)."""

import pytest

from scimhttp import Scim, assert_error, op, run_parallel, uniq, user_body, version_number

THREADS = 8


def clients(scim, n=THREADS):
    return [Scim(scim.base, scim.token) for _ in range(n)]


def test_concurrent_member_adds_and_removes_are_never_lost(scim):
    initial = [scim.create_user()["id"] for _ in range(THREADS)]
    g = scim.create_group(members=initial)
    per_thread = 6
    adds = [[scim.create_user()["id"] for _ in range(per_thread)] for _ in range(THREADS)]
    cs = clients(scim)

    def worker(i):
        def fn():
            c, statuses = cs[i], []
            for j, uid in enumerate(adds[i]):
                ops = [op("Add", "members", [{"$ref": None, "value": uid}])]
                if j == 0 and i % 2 == 0:  # even threads also remove one initial member
                    ops.append(op("Remove", f'members[value eq "{initial[i]}"]'))
                if j == 1 and i % 2 == 1:  # odd threads use the legacy remove form
                    ops.append(op("Remove", "members", [{"value": initial[i]}]))
                statuses.append(c.patch_resource("Groups", g["id"], *ops).status_code)
            return statuses

        return fn

    results = run_parallel([worker(i) for i in range(THREADS)])
    assert all(s in (200, 204) for st in results for s in st), results
    expected = {u for a in adds for u in a}
    assert scim.member_ids(g["id"]) == expected
    # and through the user side
    assert {x["value"] for x in scim.read("Users", adds[3][2])["groups"]} == {g["id"]}


def test_concurrent_put_with_if_match_exactly_one_wins(scim):
    u = scim.create_user()
    cs = clients(scim)
    version = u["meta"]["version"]
    for round_ in range(3):
        def put(i):
            return lambda: cs[i].put(
                f"/Users/{u['id']}",
                user_body(u["userName"], displayName=f"r{round_}-t{i}"),
                headers={"If-Match": version},
            )

        rs = run_parallel([put(i) for i in range(THREADS)])
        codes = sorted(r.status_code for r in rs)
        assert codes.count(200) == 1, codes
        assert codes.count(412) == THREADS - 1, [(r.status_code, r.text[:200]) for r in rs]
        winner = next(r for r in rs if r.status_code == 200)
        now = scim.read("Users", u["id"])
        assert now["displayName"] == winner.json()["displayName"]
        assert int(version_number(now["meta"]["version"])) == int(version_number(version)) + 1
        version = now["meta"]["version"]


def test_concurrent_patch_with_if_match_exactly_one_wins(scim):
    g = scim.create_group()
    members = [scim.create_user()["id"] for _ in range(THREADS)]
    cs = clients(scim)
    tag = g["meta"]["version"]
    rs = run_parallel(
        [
            (lambda i=i: cs[i].patch_resource("Groups", g["id"], op("add", "members", [{"value": members[i]}]), headers={"If-Match": tag}))
            for i in range(THREADS)
        ]
    )
    codes = sorted(r.status_code for r in rs)
    ok = [i for i, r in enumerate(rs) if r.status_code in (200, 204)]
    assert len(ok) == 1, codes
    assert codes.count(412) == THREADS - 1, codes
    assert scim.member_ids(g["id"]) == {members[ok[0]]}


def test_racing_duplicate_creates_one_201_rest_409(scim):
    name = uniq("Race")
    cs = clients(scim)
    variants = [name, name.upper(), name.lower(), name.swapcase()] * (THREADS // 4)
    rs = run_parallel([(lambda i=i: cs[i].post("/Users", user_body(variants[i]))) for i in range(THREADS)])
    codes = sorted(r.status_code for r in rs)
    assert codes.count(201) == 1, [(r.status_code, r.text[:200]) for r in rs]
    assert codes.count(409) == THREADS - 1, [(r.status_code, r.text[:200]) for r in rs]
    for r in rs:
        if r.status_code == 409:
            assert r.json().get("scimType") == "uniqueness", r.text


def test_racing_group_creates_same_name(scim):
    name = uniq("RaceGroup")
    cs = clients(scim)
    rs = run_parallel(
        [(lambda i=i: cs[i].post("/Groups", {"displayName": name if i % 2 else name.upper()})) for i in range(THREADS)]
    )
    codes = sorted(r.status_code for r in rs)
    assert codes.count(201) == 1 and codes.count(409) == THREADS - 1, codes


def test_concurrent_membership_on_many_groups_and_user_delete(scim):
    """Deleting a user while others add it to groups: no 500s, and no group
    ends up referencing the deleted user (several rounds: it is a race)."""
    cs = clients(scim)
    dangling = []
    for _ in range(5):
        victim = scim.create_user()
        groups = [scim.create_group()["id"] for _ in range(THREADS - 1)]
        fns = [
            (lambda i=i: cs[i].patch_resource("Groups", groups[i], op("add", "members", [{"value": victim["id"]}])))
            for i in range(THREADS - 1)
        ]
        fns.append(lambda: cs[-1].delete(f"/Users/{victim['id']}"))
        rs = run_parallel(fns)
        assert all(r.status_code < 500 for r in rs), [(r.status_code, r.text[:200]) for r in rs]
        assert rs[-1].status_code == 204
        assert_error(scim.get(f"/Users/{victim['id']}"), 404)
        dangling += [gid for gid in groups if victim["id"] in scim.member_ids(gid)]
    assert dangling == [], f"{len(dangling)} groups still list a deleted user"


def test_concurrent_adds_of_the_same_members(scim):
    """Every thread adds the same members: all succeed (no 409/500 from the
    unique (group, member) pair) and each member is there once."""
    g = scim.create_group()
    same = [scim.create_user()["id"] for _ in range(5)]
    cs = clients(scim)
    rs = run_parallel(
        [(lambda i=i: cs[i].patch_resource("Groups", g["id"], op("Add", "members", [{"value": m} for m in same]))) for i in range(THREADS)]
    )
    assert all(r.status_code in (200, 204) for r in rs), [(r.status_code, r.text[:200]) for r in rs]
    members = scim.read("Groups", g["id"])["members"]
    assert sorted(m["value"] for m in members) == sorted(same)


def test_concurrent_unconditional_puts_all_apply(scim):
    u = scim.create_user()
    cs = clients(scim)
    rs = run_parallel(
        [(lambda i=i: cs[i].put(f"/Users/{u['id']}", user_body(u["userName"], displayName=f"t{i}"))) for i in range(THREADS)]
    )
    assert all(r.status_code == 200 for r in rs), [(r.status_code, r.text[:200]) for r in rs]
    versions = sorted(int(version_number(r.headers["ETag"])) for r in rs)
    start = int(version_number(u["meta"]["version"]))
    assert versions == list(range(start + 1, start + 1 + THREADS)), versions
    final = scim.read("Users", u["id"])
    assert int(version_number(final["meta"]["version"])) == start + THREADS


def test_concurrent_patches_of_different_attributes_are_all_kept(scim):
    """PATCH is a read-modify-write of the stored resource: concurrent PATCHes
    touching different attributes must not overwrite each other."""
    attrs = ["nickName", "title", "displayName", "locale", "timezone", "userType", "preferredLanguage", "profileUrl"]
    values = ["nick", "Title", "Display", "en-US", "Europe/Paris", "Employee", "en", "https://example.com/p"]
    for _ in range(3):
        u = scim.create_user()
        cs = clients(scim)
        rs = run_parallel(
            [(lambda i=i: cs[i].patch_resource("Users", u["id"], op("replace", attrs[i], values[i]))) for i in range(THREADS)]
        )
        assert all(r.status_code in (200, 204) for r in rs), [(r.status_code, r.text[:200]) for r in rs]
        got = scim.read("Users", u["id"])
        assert {a: got.get(a) for a in attrs} == dict(zip(attrs, values))
        assert int(version_number(got["meta"]["version"])) == int(version_number(u["meta"]["version"])) + THREADS


def test_concurrent_group_rename_and_member_adds(scim):
    g = scim.create_group()
    users = [scim.create_user()["id"] for _ in range(THREADS // 2)]
    names = [uniq("ren") for _ in range(THREADS // 2)]
    cs = clients(scim)
    fns = [(lambda i=i: cs[i].patch_resource("Groups", g["id"], op("replace", "displayName", names[i]))) for i in range(THREADS // 2)]
    fns += [
        (lambda i=i: cs[THREADS // 2 + i].patch_resource("Groups", g["id"], op("add", "members", [{"value": users[i]}])))
        for i in range(THREADS // 2)
    ]
    rs = run_parallel(fns)
    assert all(r.status_code in (200, 204) for r in rs), [(r.status_code, r.text[:200]) for r in rs]
    got = scim.read("Groups", g["id"])
    assert got["displayName"] in names
    assert {m["value"] for m in got["members"]} == set(users)


def test_parallel_member_patches_of_one_group_each_step_the_version(scim):
    # Membership-only PATCHes take no row lock (scim.member_writes), so
    # they run side by side; every one must still be kept, and the group's
    # version must step by exactly one per request: distinct ETags, none
    # reused, and a mixed rename + member burst still counted.
    g = scim.create_group()
    v0 = int(version_number(g["meta"]["version"]))
    per_thread = 5
    adds = [[scim.create_user()["id"] for _ in range(per_thread)] for _ in range(THREADS)]
    cs = clients(scim)

    def worker(i):
        def fn():
            statuses = []
            for uid in adds[i]:
                r = cs[i].patch_resource("Groups", g["id"], op("add", "members", [{"value": uid}]))
                statuses.append(r.status_code)
            if i == 0:
                r = cs[i].patch_resource("Groups", g["id"], op("replace", "displayName", uniq("burst")))
                statuses.append(r.status_code)
            return statuses

        return fn

    results = run_parallel([worker(i) for i in range(THREADS)])
    assert all(s in (200, 204) for st in results for s in st), results
    assert scim.member_ids(g["id"]) == {u for a in adds for u in a}
    got = scim.read("Groups", g["id"])
    assert int(version_number(got["meta"]["version"])) == v0 + THREADS * per_thread + 1
    r = scim.get(f"/Groups/{g['id']}")
    assert r.headers["ETag"] == got["meta"]["version"]
    # the current version is the one If-Match accepts, an older one is refused
    stale = f'W/"{v0 + THREADS * per_thread}"'
    assert cs[0].patch_resource("Groups", g["id"], op("replace", "displayName", uniq("late")),
                                headers={"If-Match": stale}).status_code == 412


def test_concurrent_member_replacements_leave_one_whole_list(scim):
    # `replace members` is not a delta: racing replacements serialise on
    # the group row, so the result is one request's list, never a mix.
    g = scim.create_group(members=[scim.create_user()["id"]])
    lists = [[scim.create_user()["id"] for _ in range(3)] for _ in range(THREADS)]
    cs = clients(scim)
    rs = run_parallel([
        (lambda i=i: cs[i].patch_resource("Groups", g["id"], op("replace", "members", [{"value": u} for u in lists[i]])))
        for i in range(THREADS)
    ])
    assert all(r.status_code in (200, 204) for r in rs), [(r.status_code, r.text[:200]) for r in rs]
    assert scim.member_ids(g["id"]) in [set(x) for x in lists]
