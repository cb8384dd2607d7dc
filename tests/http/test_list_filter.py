"""Listing, filtering, sorting and paging (RFC 7644 §3.4.2–3.4.3, RFC 9865)."""

import pytest

from scimhttp import LIST_RESPONSE, SEARCH_REQUEST, assert_error, assert_scim_json, ids, uniq


@pytest.fixture(scope="module")
def family(scim):
    """Seven users sharing a unique userName prefix, with varied attributes."""
    prefix = uniq("fam")
    people = [
        ("carol", "Carol", "Zimmer", True, "work"),
        ("alice", "Alice", "Young", True, "work"),
        ("bob", "Bob", "Xavier", False, "home"),
        ("dave", "Dave", "Wu", True, "home"),
        ("erin", "Erin", "Vance", False, "work"),
        ("frank", "Frank", "Ulm", True, "other"),
        ("grace", "Grace", "Tan", True, "work"),
    ]
    made = {}
    for key, given, family_name, active, etype in people:
        u = scim.create_user(
            f"{prefix}-{key}",
            externalId=f"{prefix}-EXT-{key}",
            name={"givenName": given, "familyName": family_name},
            displayName=f"{given} {family_name}",
            active=active,
            emails=[{"value": f"{key}@{prefix}.example", "type": etype}],
        )
        made[key] = u
    return prefix, made


def flt(scim, filter_, rt="Users", **params):
    return scim.list(rt, filter=filter_, **params)


def test_filter_user_name_eq_case_variant(scim, family):
    prefix, made = family
    for variant in (f"{prefix}-alice", f"{prefix}-ALICE".upper(), f"{prefix}-Alice"):
        body = flt(scim, f'userName eq "{variant}"')
        assert body["totalResults"] == 1, variant
        assert ids(body) == [made["alice"]["id"]]
        assert body["Resources"][0]["userName"] == f"{prefix}-alice"


def test_filter_operator_and_attribute_names_case_insensitive(scim, family):
    prefix, made = family
    for f in (f'USERNAME Eq "{prefix}-bob"', f'username EQ "{prefix}-bob"',
              f'userName eq "{prefix}-bob" AND active Eq false'):
        assert ids(flt(scim, f)) == [made["bob"]["id"]], f


def test_filter_urn_qualified_attribute(scim, family):
    prefix, made = family
    f = f'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "{prefix}-dave"'
    assert ids(flt(scim, f)) == [made["dave"]["id"]]


def test_filter_percent20_encoding(scim, family):
    prefix, made = family
    r = scim.get(f"/Users?filter=userName%20eq%20%22{prefix}-erin%22")
    assert r.status_code == 200, r.text
    assert ids(r.json()) == [made["erin"]["id"]]


def test_filter_external_id_eq_case_exact(scim, family):
    prefix, made = family
    assert ids(flt(scim, f'externalId eq "{prefix}-EXT-carol"')) == [made["carol"]["id"]]
    # externalId is caseExact (RFC 7643 §3.1)
    assert flt(scim, f'externalId eq "{prefix}-ext-carol"')["totalResults"] == 0


def test_filter_no_match_is_empty_list_response(scim):
    r = scim.get("/Users", params={"filter": f'userName eq "{uniq("nobody")}@nowhere.example"'})
    assert r.status_code == 200, r.text
    assert_scim_json(r)
    body = r.json()
    assert body["schemas"] == [LIST_RESPONSE]
    assert body["totalResults"] == 0
    assert body.get("Resources", []) == []


def test_count_zero_gives_total_only(scim, family):
    prefix, _ = family
    body = flt(scim, f'userName sw "{prefix}-"', count=0)
    assert body["totalResults"] == 7
    assert body.get("Resources", []) == []
    assert body.get("itemsPerPage", 0) == 0


def test_negative_count_is_zero_and_start_index_below_one_is_one(scim, family):
    prefix, _ = family
    body = flt(scim, f'userName sw "{prefix}-"', count=-5)
    assert body["totalResults"] == 7 and body.get("Resources", []) == []
    body = flt(scim, f'userName sw "{prefix}-"', startIndex=0, count=2)
    assert body["startIndex"] == 1
    assert len(body["Resources"]) == 2


def test_paging_is_stable_and_complete(scim, family):
    prefix, made = family
    seen = []
    for start in (1, 4, 7):
        body = flt(scim, f'userName sw "{prefix}-"', startIndex=start, count=3)
        assert body["totalResults"] == 7
        assert body["startIndex"] == start
        assert body["itemsPerPage"] == len(body["Resources"])
        seen += ids(body)
    assert len(seen) == 7
    assert set(seen) == {u["id"] for u in made.values()}
    again = []
    for start in (1, 4, 7):
        again += ids(flt(scim, f'userName sw "{prefix}-"', startIndex=start, count=3))
    assert again == seen, "order must be stable across identical requests"


def test_start_index_past_end(scim, family):
    prefix, _ = family
    body = flt(scim, f'userName sw "{prefix}-"', startIndex=50, count=10)
    assert body["totalResults"] == 7
    assert body.get("Resources", []) == []


def test_okta_lookup_and_test_connection_shapes(scim, family):
    prefix, made = family
    body = flt(scim, f'userName eq "{prefix}-grace"', startIndex=1, count=100)
    assert ids(body) == [made["grace"]["id"]]
    body = scim.list("Users", count=2, startIndex=1)
    assert body["itemsPerPage"] == len(body["Resources"]) <= 2
    assert body["totalResults"] >= 7


@pytest.mark.parametrize("order,expect", [("ascending", "abcdefg"), ("descending", "gfedcba")])
def test_sort_by_user_name(scim, family, order, expect):
    prefix, made = family
    body = flt(scim, f'userName sw "{prefix}-"', sortBy="userName", sortOrder=order)
    names = [r["userName"].split("-")[-1][0] for r in body["Resources"]]
    assert "".join(names) == expect


def test_sort_by_sub_attribute(scim, family):
    prefix, _ = family
    body = flt(scim, f'userName sw "{prefix}-"', sortBy="name.familyName")
    fams = [r["name"]["familyName"] for r in body["Resources"]]
    assert fams == sorted(fams)


def test_sort_then_page(scim, family):
    prefix, _ = family
    p1 = flt(scim, f'userName sw "{prefix}-"', sortBy="userName", sortOrder="descending", count=2)
    p2 = flt(scim, f'userName sw "{prefix}-"', sortBy="userName", sortOrder="descending", count=2, startIndex=3)
    names = [r["userName"][-5:] for r in p1["Resources"] + p2["Resources"]]
    assert names == ["grace", "frank", "-erin", "-dave"]


def test_sort_by_unknown_attribute_400(scim, family):
    prefix, _ = family
    r = scim.get("/Users", params={"filter": f'userName sw "{prefix}-"', "sortBy": "noSuchAttr"})
    assert_error(r, 400)


@pytest.mark.parametrize(
    "expr,expect",
    [
        ('active eq false', "be"),
        ('name.familyName eq "wu"', "d"),
        ('emails[type eq "work"]', "aceg"),
        ('emails[type eq "home" or type eq "other"]', "bdf"),
        ('emails.value ew "@{p}.example" and emails.type eq "home"', "bd"),
        ('emails[type eq "work" and value sw "gr"]', "g"),
        ('displayName co "AN"', "efg"),
        ('not (active eq true)', "be"),
        ('(name.givenName sw "A" or name.givenName sw "B") and active eq true', "a"),
        ('name.givenName pr and not (name.familyName lt "W")', "abcd"),
        ('externalId sw "{p}-EXT-f"', "f"),
    ],
)
def test_filter_expressions(scim, family, expr, expect):
    prefix, made = family
    f = f'userName sw "{prefix}-" and ({expr.replace("{p}", prefix)})'
    got = {r["userName"].rsplit("-", 1)[-1][0] for r in flt(scim, f, count=100)["Resources"]}
    assert got == set(expect), f


def test_filter_on_meta_timestamps(scim, family):
    prefix, made = family
    created = made["alice"]["meta"]["created"]
    body = flt(scim, f'userName sw "{prefix}-" and meta.created ge "{created}"')
    assert made["alice"]["id"] in ids(body)
    body = flt(scim, f'userName sw "{prefix}-" and meta.lastModified gt "2999-01-01T00:00:00Z"')
    assert body["totalResults"] == 0


def test_like_wildcards_are_literal(scim):
    prefix = uniq("wild")
    a = scim.create_user(f"{prefix}-50%_off")
    scim.create_user(f"{prefix}-500-offer")
    assert ids(flt(scim, f'userName co "{prefix}-50%_"')) == [a["id"]]
    assert flt(scim, f'userName sw "{prefix}-5_0"')["totalResults"] == 0
    assert all(r["userName"].endswith("%") for r in flt(scim, 'userName ew "%"', count=1000)["Resources"])


def test_filter_value_with_quotes_and_sql_meta(scim):
    prefix = uniq("inj")
    u = scim.create_user(prefix + "-o'brien")
    assert ids(flt(scim, f'userName eq "{prefix}-o\'brien"')) == [u["id"]]
    assert flt(scim, f'userName eq "{prefix}\' OR \'1\'=\'1"')["totalResults"] == 0
    assert flt(scim, 'userName eq "x\\" or userName pr or userName eq \\"y"')["totalResults"] == 0


@pytest.mark.parametrize(
    "bad",
    [
        'userName eq',
        'userName eq "unterminated',
        '(userName eq "x"',
        'userName zz "x"',
        'noSuchAttribute eq "x"',
        'userName eq "x" and',
        'emails[type eq "work"',
        'userName eq "x" garbage',
        '"x" eq userName',
        'userName eq x',
        'active eq "notabool"',
        'meta.created gt "not-a-date"',
    ],
)
def test_malformed_filter_400_invalid_filter(scim, bad):
    r = scim.get("/Users", params={"filter": bad})
    assert_error(r, 400, "invalidFilter")


def test_attributes_on_list(scim, family):
    prefix, _ = family
    body = flt(scim, f'userName sw "{prefix}-"', attributes="userName")
    for res in body["Resources"]:
        assert set(res) - {"schemas"} == {"id", "userName"}, res
    body = flt(scim, f'userName sw "{prefix}-"', excludedAttributes="emails,name")
    for res in body["Resources"]:
        assert "emails" not in res and "name" not in res and "userName" in res


def test_post_search(scim, family):
    prefix, made = family
    r = scim.post(
        "/Users/.search",
        {
            "schemas": [SEARCH_REQUEST],
            "filter": f'userName sw "{prefix}-"',
            "attributes": ["userName", "displayName"],
            "sortBy": "userName",
            "sortOrder": "ascending",
            "startIndex": 2,
            "count": 2,
        },
    )
    assert r.status_code == 200, r.text
    assert_scim_json(r)
    body = r.json()
    assert body["schemas"] == [LIST_RESPONSE]
    assert body["totalResults"] == 7
    assert [x["userName"] for x in body["Resources"]] == [f"{prefix}-bob", f"{prefix}-carol"]
    assert all("emails" not in x for x in body["Resources"])


def test_post_search_bad_filter_and_bad_body(scim):
    assert_error(scim.post("/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": "userName eq"}), 400, "invalidFilter")
    assert_error(scim.post("/Users/.search", raw="{not json"), 400)
    assert_error(scim.post("/Users/.search", {"schemas": [SEARCH_REQUEST], "count": "many"}), 400)


def test_get_on_search_path_not_allowed(scim):
    r = scim.get("/Users/.search")
    assert r.status_code in (404, 405), r.text


def test_groups_displayname_filter_excluding_members(scim):
    """Entra's group matching: GET /Groups?excludedAttributes=members&filter=displayName eq "x"."""
    u = scim.create_user()
    g = scim.create_group(uniq("EntraGroup"), members=[u["id"]])
    body = scim.list("Groups", excludedAttributes="members", filter=f'displayName eq "{g["displayName"].lower()}"')
    assert ids(body) == [g["id"]]
    assert "members" not in body["Resources"][0]
    body = scim.list("Groups", filter=f'displayName eq "{g["displayName"]}"')
    assert [m["value"] for m in body["Resources"][0]["members"]] == [u["id"]]


def test_groups_filter_by_member(scim):
    u = scim.create_user()
    g1 = scim.create_group(members=[u["id"]])
    scim.create_group()
    g3 = scim.create_group(members=[u["id"]])
    body = scim.list("Groups", filter=f'members.value eq "{u["id"]}"', excludedAttributes="members")
    assert set(ids(body)) == {g1["id"], g3["id"]}


def test_default_and_max_page_size(scim):
    spc = scim.get("/ServiceProviderConfig").json()
    body = scim.list("Users")
    default = (spc.get("pagination") or {}).get("defaultPageSize") or spc["filter"]["maxResults"]
    assert body["itemsPerPage"] <= default
    assert len(body["Resources"]) == body["itemsPerPage"]


# -- cursor pagination (RFC 9865), when advertised -----------------------------------


@pytest.fixture(scope="module")
def cursor_supported(scim):
    spc = scim.get("/ServiceProviderConfig").json()
    if not (spc.get("pagination") or {}).get("cursor"):
        pytest.skip("cursor pagination not advertised in ServiceProviderConfig")


def test_cursor_pagination_walks_everything(scim, family, cursor_supported):
    prefix, made = family
    seen, cursor, pages = [], "", 0
    while True:
        body = flt(scim, f'userName sw "{prefix}-"', count=3, cursor=cursor)
        seen += ids(body)
        pages += 1
        assert pages <= 5, "cursor paging does not terminate"
        cursor = body.get("nextCursor")
        if not cursor:
            break
        assert len(body["Resources"]) == 3
    assert pages == 3
    assert sorted(seen) == sorted(u["id"] for u in made.values())


def test_invalid_cursor_400(scim, cursor_supported):
    r = scim.get("/Users", params={"cursor": "definitely-not-a-cursor", "count": 2})
    assert_error(r, 400, "invalidCursor")


def test_filter_on_password_rejected(scim):
    u = scim.create_user(password="Oracle-pass-1")
    for f in (f'userName eq "{u["userName"]}" and password eq "Oracle-pass-1"', "password pr"):
        assert_error(scim.get("/Users", params={"filter": f}), 400, "invalidFilter")
    assert_error(scim.get("/Users", params={"sortBy": "password"}), 400)


def test_filter_user_attribute_on_groups_400(scim):
    assert_error(scim.get("/Groups", params={"filter": 'userName eq "x"'}), 400, "invalidFilter")


def test_root_search_spans_resource_types(scim):
    name = uniq("Both")
    u = scim.create_user(displayName=name)
    g = scim.create_group(name)
    r = scim.post("/.search", {"schemas": [SEARCH_REQUEST], "filter": f'displayName eq "{name}"'})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalResults"] == 2
    got = {x["id"]: x["meta"]["resourceType"] for x in body["Resources"]}
    assert got == {u["id"]: "User", g["id"]: "Group"}


def test_root_search_group_attribute_projection(scim):
    name = uniq("RootProj")
    u = scim.create_user(displayName=name)
    g = scim.create_group(name, members=[u["id"]])
    r = scim.post("/.search", {"schemas": [SEARCH_REQUEST], "filter": f'displayName eq "{name}"',
                               "excludedAttributes": ["members"]})
    assert r.status_code == 200, r.text
    by_id = {x["id"]: x for x in r.json()["Resources"]}
    assert set(by_id) == {u["id"], g["id"]}
    assert "members" not in by_id[g["id"]]


def test_paging_with_sort_ties_is_complete(scim, family):
    """sortBy an attribute with many ties (active): pages must still
    partition the result (a deterministic tie-break)."""
    prefix, made = family
    for order in ("ascending", "descending"):
        seen = []
        for start in (1, 3, 5, 7):
            body = flt(scim, f'userName sw "{prefix}-"', sortBy="active", sortOrder=order, startIndex=start, count=2)
            seen += ids(body)
        assert sorted(seen) == sorted(u["id"] for u in made.values()), order
        actives = [made_by_id(made)[i]["active"] for i in seen]
        assert actives == sorted(actives, reverse=(order == "descending"))


def made_by_id(made):
    return {u["id"]: u for u in made.values()}


def test_complex_attribute_filter_without_sub_attribute(scim, family):
    """RFC 7644 §3.4.2.2: `emails co "example.com"` compares the value sub-attribute."""
    prefix, made = family
    body = flt(scim, f'emails co "@{prefix}.example"')
    assert set(ids(body)) == {u["id"] for u in made.values()}


def test_ordering_operators_and_case_rules(scim, family):
    prefix, made = family
    letters = lambda body: {r["userName"].rsplit("-", 1)[-1][0] for r in body["Resources"]}  # noqa: E731
    assert letters(flt(scim, f'userName sw "{prefix}-" and userName gt "{prefix}-dave"')) == set("efg")
    assert letters(flt(scim, f'userName sw "{prefix}-" and userName le "{prefix}-BOB"')) == set("ab")
    # userName is caseExact=false: sw/co/ew ignore case
    assert flt(scim, f'userName sw "{prefix.upper()}-"')["totalResults"] == 7
    # externalId is caseExact=true
    assert flt(scim, f'externalId sw "{prefix}-ext-"')["totalResults"] == 0
    assert flt(scim, f'externalId sw "{prefix}-EXT-"')["totalResults"] == 7


def test_and_binds_tighter_than_or(scim, family):
    prefix, made = family
    f = (f'userName eq "{prefix}-alice" or userName eq "{prefix}-bob" and active eq true')
    assert ids(flt(scim, f)) == [made["alice"]["id"]]
    f = (f'(userName eq "{prefix}-alice" or userName eq "{prefix}-bob") and active eq false')
    assert ids(flt(scim, f)) == [made["bob"]["id"]]


def test_not_requires_parentheses(scim):
    assert_error(scim.get("/Users", params={"filter": "not active eq true"}), 400, "invalidFilter")


def test_escaped_quote_and_unicode_escape_in_filter_value(scim):
    prefix = uniq("esc")
    q = scim.create_user(prefix + '-say"hi"')
    e = scim.create_user(prefix + "-\u00e9cole")
    assert ids(flt(scim, f'userName eq "{prefix}-say\\"hi\\""')) == [q["id"]]
    assert ids(flt(scim, f'userName eq "{prefix}-\\u00e9cole"')) == [e["id"]]


def test_value_filter_with_nested_not(scim, family):
    prefix, made = family
    f = f'userName sw "{prefix}-" and emails[type eq "work" and not (value sw "a")]'
    got = {r["userName"].rsplit("-", 1)[-1][0] for r in flt(scim, f)["Resources"]}
    assert got == set("ceg")
