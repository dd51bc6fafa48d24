"""``/rest/v1/`` through Django's test client: PostgREST's grammar on records (typing, logic
trees, order, ranges, counts, writes) and what bad input gets, always a 4xx in PostgREST's
shape ``{code, message, details, hint}``, never a 500; plus unit tests of the parser."""

import json
from urllib.parse import quote

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from compat.rest import grammar
from datastore import filters
from datastore.filters import AllOf, AnyOf, Condition, Not
from datastore.signals import record_changed, records_created
from endusers.services.sessions import end_user_session_start
from realtime import events as realtime_events
from tenants import services as tenant_services
from tenants.context import TenantContext, set_tenant_context
from tests.access.conftest import make_end_user, set_rule, todos  # noqa: F401
from tests.datastore.conftest import (  # noqa: F401 (fixtures used here)
    as_member,
    make_collection,
    membership_a,
    membership_b,
    project_a,
    project_b,
)

SHAPE = {"code", "message", "details", "hint"}
SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "stars": {"type": "integer"},
        "score": {"type": ["number", "null"]},
        "published": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


class Caller:
    def __init__(self, client, headers):
        self.http = client
        self.headers = headers

    def call(self, method, path, body=None, **headers):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        kwargs = {}
        if body is not None:
            kwargs = {"data": json.dumps(body), "content_type": "application/json"}
        return getattr(self.http, method)(path, **kwargs, **self.headers, **extra)

    def get(self, path, **headers):
        return self.call("get", path, **headers)

    def post(self, path, body, **headers):
        return self.call("post", path, body, **headers)

    def patch(self, path, body, **headers):
        return self.call("patch", path, body, **headers)

    def delete(self, path, **headers):
        return self.call("delete", path, **headers)


@pytest.fixture
def app(client, membership_a, project_a, todos, set_rule, make_end_user, make_collection):  # noqa: F811
    as_member(membership_a)
    _, publishable = tenant_services.api_key_create(
        membership=membership_a, project=project_a, kind="publishable"
    )
    _, secret = tenant_services.api_key_create(
        membership=membership_a, project=project_a, kind="secret"
    )
    set_tenant_context(TenantContext())
    posts = make_collection(membership_a, project_a, "posts", json_schema=SCHEMA)
    for op in ("select", "insert", "update", "delete"):
        set_rule(project_a, todos, op, "authenticated", "owner")
        set_rule(project_a, posts, op, "authenticated", "owner")
    set_rule(project_a, posts, "select", "anon", "everyone", conditions=["published:eq:true"])
    users = {}
    for name in ("alice", "bob"):
        end_user = make_end_user(project_a, f"{name}@example.com")
        token = end_user_session_start(project=project_a, end_user=end_user).access_token
        users[name] = (end_user, token)

    def caller(name):
        headers = {"HTTP_APIKEY": secret if name == "secret" else publishable}
        if name in users:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {users[name][1]}"
        return Caller(client, headers)

    return {
        "alice": caller("alice"),
        "bob": caller("bob"),
        "anon": caller("anon"),
        "secret": caller("secret"),
        "users": users,
    }


def error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == SHAPE, body
    assert body["code"] == code, body
    return body


def q(**params) -> str:
    return "&".join(f"{k}={quote(str(v), safe='(),.*:->')}" for k, v in params.items())


# --- the parser -------------------------------------------------------------------------------
SCHEMA_OF_POSTS = grammar.Schema(SCHEMA, "posts")
UNTYPED = grammar.Schema(None, "todos")


def parse(query: str, schema=UNTYPED):
    return grammar.parse_query(QueryDict(query), schema)


def test_untyped_values_stand_for_their_json_types():
    assert parse("age=eq.18").where == Condition(("age",), "in", ("18", 18))
    assert parse("done=eq.true").where == Condition(("done",), "in", ("true", True))
    assert parse("name=eq.bob").where == Condition(("name",), "eq", "bob")
    assert parse("age=gt.5").where == AnyOf(
        (Condition(("age",), "gt", "5"), Condition(("age",), "gt", 5))
    )


def test_the_json_schema_types_a_value():
    assert parse("stars=gte.3", SCHEMA_OF_POSTS).where == Condition(("stars",), "gte", 3)
    assert parse("title=eq.10", SCHEMA_OF_POSTS).where == Condition(("title",), "eq", "10")
    assert parse("published=is.true", SCHEMA_OF_POSTS).where == Condition(
        ("published",), "eq", True
    )
    assert parse("tags=cs.{a,b}", SCHEMA_OF_POSTS).where == Condition(
        ("tags",), "contains", ["a", "b"]
    )
    assert parse("stars=neq.3", SCHEMA_OF_POSTS).where == AllOf(
        (Condition(("stars",), "neq", None), Condition(("stars",), "neq", 3))
    )
    with pytest.raises(grammar.GrammarError) as bad:
        parse("stars=eq.abc", SCHEMA_OF_POSTS)
    assert bad.value.code == "22P02"


def test_columns_arrows_and_logic_trees():
    where = parse('or=(user_id.is.null,and(a->b.eq.1,c->>d.like.x*),e.not.in.(1,"2,3"))').where
    assert where == AnyOf(
        (
            Condition((), "exists", False, column="end_user_id"),
            AllOf(
                (
                    Condition(("a", "b"), "eq", 1),
                    Condition(("c", "d"), "like", "x%", as_text=True),
                )
            ),
            Not(Condition(("e",), "in", ("1", 1, "2,3"))),
        )
    )
    assert parse("not.and=(a.eq.x,b.eq.y)").where == Not(
        AllOf((Condition(("a",), "eq", "x"), Condition(("b",), "eq", "y")))
    )


def test_order_select_and_ranges():
    query = parse("order=n.desc.nullslast,user_id,a->>b&select=id,t:title,a->b&limit=5&offset=2")
    assert query.order == (
        filters.OrderKey(None, ("n",), True, nulls_first=False),
        filters.OrderKey("end_user_id", (), False),
        filters.OrderKey(None, ("a", "b"), False, as_text=True),
    )
    assert [item.key for item in query.select] == ["id", "t", "b"]
    assert (query.offset, query.limit) == (2, 5)
    ranged = grammar.parse_query(QueryDict("limit=10"), UNTYPED, range_header="3-5")
    assert (ranged.offset, ranged.limit) == (3, 3)


def test_prefer():
    prefer = grammar.parse_prefer("return=representation, count=exact,resolution=merge-duplicates")
    assert (prefer.returning, prefer.count, prefer.resolution) == (
        "representation",
        "exact",
        "merge-duplicates",
    )
    assert grammar.parse_prefer("tx=rollback").returning == "minimal"


@pytest.mark.parametrize(
    "query, code",
    [
        ("age=bogus.1", "PGRST100"),
        ("age=18", "PGRST100"),
        ("a b=eq.1", "PGRST100"),
        ("or=(a.eq.1", "PGRST100"),
        ("or=a.eq.1", "PGRST100"),
        ("or=()", "PGRST100"),
        ("or=(a.eq.1,b)", "PGRST100"),
        ("age=in.1,2", "PGRST100"),
        ("age=is.maybe", "PGRST100"),
        ("order=a.sideways", "PGRST100"),
        ("limit=-1", "PGRST100"),
        ("limit=ten", "PGRST100"),
        ("offset=1&offset=2", "PGRST100"),
        ("id=eq.not-a-uuid", "22P02"),
        ("created_at=gt.yesterday", "22007"),
        ("id->x=eq.1", "42883"),
        ("tags=cs.a", "22P02"),
        ("a->b=eq.{bad", "22P02"),
        ("body=fts(klingon).x", "42704"),
        ("select=author(name)", "PGRST200"),
        ("select=count()", "PGRST123"),
        ("select=n.sum()", "PGRST123"),
        ("select=n::text", "PGRST100"),
        ("a=eq(any).x", "PGRST100"),
    ],
)
def test_the_parser_refuses(query, code):
    with pytest.raises(grammar.GrammarError) as refused:
        parse(query)
    assert refused.value.code == code


def test_a_huge_or_is_refused_before_any_sql():
    items = ",".join(f"n.eq.{i}" for i in range(grammar.MAX_CONDITIONS + 1))
    with pytest.raises(grammar.GrammarError) as refused:
        parse(f"or=({items})")
    assert "at most" in refused.value.message
    deep = "a.eq.1"
    for _ in range(grammar.MAX_DEPTH + 1):
        deep = f"or({deep})"
    with pytest.raises(grammar.GrammarError):
        parse(f"or=({deep})")


# --- through the views ------------------------------------------------------------------------
@pytest.mark.django_db
def test_crud_typing_and_ownership(app):
    alice, bob = app["alice"], app["bob"]
    created = alice.post(
        "/rest/v1/todos?select=*",
        [{"n": 1, "title": "one"}, {"n": 2, "title": "two"}, {"n": "10", "title": "ten"}],
        prefer="return=representation",
    )
    assert created.status_code == 201, created.content
    rows = created.json()
    alice_id = str(app["users"]["alice"][0].id)
    assert {r["user_id"] for r in rows} == {alice_id}
    assert set(rows[0]) == {"id", "created_at", "updated_at", "user_id", "n", "title"}
    # Untyped: eq.10 finds the string "10"; gte.2 compares numbers with 2 and strings with
    # "2" (the string "10" sorts before it).
    assert [r["title"] for r in alice.get("/rest/v1/todos?n=eq.10").json()] == ["ten"]
    assert [r["title"] for r in alice.get("/rest/v1/todos?n=gte.2").json()] == ["two"]
    # What only PostgreSQL can judge, on rows it reads, is still a 400 with its SQLSTATE.
    error(alice.get("/rest/v1/todos?title=like.on%5C"), 400, "22025")
    listed = alice.get("/rest/v1/todos?select=title&order=title.desc", prefer="count=exact")
    assert listed.json() == [{"title": "two"}, {"title": "ten"}, {"title": "one"}]
    assert listed["Content-Range"] == "0-2/3"
    page = alice.get("/rest/v1/todos?order=n.asc&limit=1&offset=1", prefer="count=exact")
    assert page.status_code == 206 and page["Content-Range"] == "1-1/3"
    estimated = alice.get("/rest/v1/todos?limit=1", prefer="count=estimated")
    assert estimated["Content-Range"] == "0-0/3"  # few rows: counted exactly
    planned = alice.get("/rest/v1/todos?limit=1&offset=1", prefer="count=planned")
    assert planned.status_code in (200, 206), planned.content
    first, total = planned["Content-Range"].split("/")
    assert first == "1-1" and int(total) >= 2  # the planner's estimate, at least what was read
    assert alice.get(f"/rest/v1/todos?user_id=eq.{alice_id}&select=n").json() == [
        {"n": 1},
        {"n": 2},
        {"n": "10"},
    ]
    # Bob sees none of it, and changes nothing.
    assert bob.get("/rest/v1/todos").json() == []
    one = f"/rest/v1/todos?id=eq.{rows[0]['id']}"
    error(bob.get(one, accept="application/vnd.pgrst.object+json"), 406, "PGRST116")
    changed = bob.patch(one, {"title": "mine"}, prefer="return=representation")
    assert changed.status_code == 200 and changed.json() == []
    assert bob.delete(one).status_code == 204
    assert alice.get(one, accept="application/vnd.pgrst.object+json").json()["title"] == "one"
    updated = alice.patch(one, {"title": "uno", "extra": None}, prefer="return=representation")
    assert updated.json()[0]["title"] == "uno" and updated.json()[0]["extra"] is None
    deleted = alice.delete("/rest/v1/todos?n=in.(1,2)", prefer="return=representation")
    assert sorted(r["n"] for r in deleted.json()) == [1, 2]
    assert [r["n"] for r in alice.get("/rest/v1/todos").json()] == ["10"]


@pytest.mark.django_db
def test_upsert_and_anon_reads_only_published(app):
    alice, anon = app["alice"], app["anon"]
    made = alice.post(
        "/rest/v1/posts",
        [
            {"title": "draft", "stars": 1, "published": False},
            {"title": "out", "stars": 5, "published": True},
        ],
        prefer="return=representation",
    ).json()
    assert [r["score"] for r in made] == [None, None]  # declared, so a column
    stripped = alice.get(
        "/rest/v1/posts?select=title,score&limit=1&order=stars",
        accept="application/vnd.pgrst.array+json;nulls=stripped",
    )
    assert stripped.json() == [{"title": "draft"}]
    assert [r["title"] for r in anon.get("/rest/v1/posts").json()] == ["out"]
    assert anon.get("/rest/v1/posts?stars=gte.3&select=title").json() == [{"title": "out"}]
    error(anon.post("/rest/v1/posts", {"title": "x"}), 401, "42501")
    upserted = alice.post(
        "/rest/v1/posts?on_conflict=id",
        [{"id": made[0]["id"], "stars": 4}, {"title": "new", "stars": 2, "published": False}],
        prefer="return=representation,resolution=merge-duplicates",
    )
    assert upserted.status_code == 201, upserted.content
    assert sorted((r["title"], r["stars"]) for r in upserted.json()) == [("draft", 4), ("new", 2)]
    ignored = alice.post(
        "/rest/v1/posts",
        {"id": made[1]["id"], "stars": 0},
        prefer="return=representation,resolution=ignore-duplicates",
    )
    assert ignored.json() == []
    assert alice.get(f"/rest/v1/posts?id=eq.{made[1]['id']}&select=stars").json() == [{"stars": 5}]
    error(alice.post("/rest/v1/posts", {"id": made[1]["id"], "title": "dup"}), 409, "23505")
    error(alice.post("/rest/v1/posts", {"stars": "many"}), 400, "23514")
    error(alice.get("/rest/v1/posts?stars=eq.many"), 400, "22P02")


# (method, path, body, headers, status, code); one fixture for all of them (subtests).
BAD_INPUT = [
    ("get", "/rest/v1/nope", None, {}, 404, "PGRST205"),
    ("get", "/rest/v1/rpc/do_it", None, {}, 404, "PGRST202"),
    ("get", "/rest/v1/todos?n=wat.1", None, {}, 400, "PGRST100"),
    ("get", "/rest/v1/todos?or=(n.eq.1,", None, {}, 400, "PGRST100"),
    ("get", "/rest/v1/todos?select=owner(*)", None, {}, 400, "PGRST200"),
    ("get", "/rest/v1/todos?id=eq.12", None, {}, 400, "22P02"),
    ("get", "/rest/v1/todos", None, {"accept_profile": "private"}, 406, "PGRST106"),
    ("get", "/rest/v1/todos", None, {"accept": "text/csv"}, 406, "PGRST107"),
    ("get", "/rest/v1/todos", None, {"range": "5-2"}, 416, "PGRST103"),
    ("get", "/rest/v1/todos?offset=10", None, {"prefer": "count=exact"}, 416, "PGRST103"),
    ("post", "/rest/v1/todos", "{not json", {}, 400, "PGRST102"),
    ("post", "/rest/v1/todos", [1, 2], {}, 400, "PGRST102"),
    ("post", "/rest/v1/todos", {"created_at": "x"}, {}, 400, "428C9"),
    ("post", "/rest/v1/todos", {"id": "x"}, {}, 400, "22P02"),
    ("post", "/rest/v1/todos", {"user_id": "8b1f2d4e-0000-4000-8000-000000000001"}, {},
     403, "42501"),
    ("post", "/rest/v1/todos?on_conflict=title", {"a": 1},
     {"prefer": "resolution=merge-duplicates"}, 400, "42P10"),
    ("post", "/rest/v1/todos", [{"id": "8b1f2d4e-0000-4000-8000-000000000001"}] * 2,
     {"prefer": "resolution=merge-duplicates"}, 400, "21000"),
    ("patch", "/rest/v1/todos", {"a": 1}, {}, 400, "21000"),
    ("patch", "/rest/v1/todos?n=eq.1", {"id": "8b1f2d4e-0000-4000-8000-000000000001"}, {},
     400, "428C9"),
    ("patch", "/rest/v1/todos?n=eq.1", [{"a": 1}], {}, 400, "PGRST102"),
    ("delete", "/rest/v1/todos", None, {}, 400, "21000"),
    ("put", "/rest/v1/todos", {"a": 1}, {}, 405, "PGRST117"),
    ("get", "/rest/v1/todos?title=eq.a%00b", None, {}, 400, "PGRST100"),
    ("patch", "/rest/v1/todos?n=eq.1&limit=1", {"a": 1}, {}, 400, "PGRST100"),
    ("post", "/rest/v1/todos", {"a": "x\u0000"}, {}, 400, "PGRST102"),
    ("get", "/rest/v1/todos?body=fts.a %26 | b", None, {}, 400, "42601"),
]  # fmt: skip


@pytest.mark.django_db
def test_bad_input_gets_postgrest_errors(app, subtests):
    caller = app["alice"]
    for method, path, body, headers, status, code in BAD_INPUT:
        with subtests.test(msg=f"{method} {path} {body!r:.60} {headers}"):
            if isinstance(body, str):
                extra = {f"HTTP_{k.upper()}": v for k, v in headers.items()}
                response = getattr(caller.http, method)(
                    path, data=body, content_type="application/json", **caller.headers, **extra
                )
            else:
                response = caller.call(method, path, body, **headers)
            error(response, status, code)


@pytest.mark.django_db
def test_wrong_keys_and_tokens_are_401_in_postgrest_shape(app, client):
    error(client.get("/rest/v1/todos"), 401, "PGRST301")
    error(client.get("/rest/v1/todos", HTTP_APIKEY="sb_publishable_nope"), 401, "PGRST301")
    bad_token = {
        "HTTP_APIKEY": app["anon"].headers["HTTP_APIKEY"],
        "HTTP_AUTHORIZATION": "Bearer x",
    }
    error(client.get("/rest/v1/todos", **bad_token), 401, "PGRST301")
    error(client.get("/rest/v1/bad-name"), 401, "PGRST301")
    error(
        client.get("/rest/v1/bad-name", HTTP_APIKEY=app["anon"].headers["HTTP_APIKEY"]),
        404,
        "PGRST125",
    )


@pytest.mark.django_db
def test_wrong_kinds_of_key_are_401(app, client, membership_b, project_b, project_a):  # noqa: F811
    secret = app["secret"].headers["HTTP_APIKEY"]
    from_browser = client.get("/rest/v1/todos", HTTP_APIKEY=secret, HTTP_ORIGIN="https://app.test")
    error(from_browser, 401, "PGRST301")
    as_member(membership_b)
    _, other = tenant_services.api_key_create(
        membership=membership_b, project=project_b, kind="publishable"
    )
    set_tenant_context(TenantContext())
    error(client.get(f"/p/{project_a.ref}/rest/v1/todos", HTTP_APIKEY=other), 401, "PGRST301")
    # Another project's end-user token with this project's key.
    alice_token = app["alice"].headers["HTTP_AUTHORIZATION"]
    foreign = client.get("/rest/v1/todos", HTTP_APIKEY=other, HTTP_AUTHORIZATION=alice_token)
    error(foreign, 401, "PGRST301")
    ok = client.get(f"/p/{project_a.ref}/rest/v1/todos", **app["alice"].headers)
    assert ok.status_code == 200 and ok.json() == []
    unknown = client.get(f"/p/{project_a.ref}/rest/v1/bad-name", **app["alice"].headers)
    error(unknown, 404, "PGRST125")


@pytest.mark.django_db
def test_a_huge_or_is_a_400(app):
    items = ",".join(f"n.eq.{i}" for i in range(5000))
    error(app["alice"].get(f"/rest/v1/todos?or=({items})"), 400, "PGRST100")
    values = ",".join(str(i) for i in range(grammar.MAX_LIST + 1))
    error(app["alice"].get(f"/rest/v1/todos?n=in.({values})"), 400, "PGRST100")


@pytest.mark.django_db
def test_a_read_is_one_statement_whatever_the_rows_and_a_count_one_more(app):
    alice = app["alice"]

    def statements(path, **headers):
        with CaptureQueriesContext(connection) as captured:
            assert alice.get(path, **headers).status_code in (200, 206)
        return [q["sql"] for q in captured.captured_queries if "datastore_record" in q["sql"]]

    alice.post("/rest/v1/todos", {"n": 0})
    one = statements("/rest/v1/todos?n=gte.0&order=n")
    alice.post("/rest/v1/todos", [{"n": i} for i in range(1, 20)])
    many = statements("/rest/v1/todos?n=gte.0&order=n")
    assert len(one) == len(many) == 1
    counted = statements("/rest/v1/todos?n=gte.0&limit=5", prefer="count=exact")
    assert len(counted) == 2 and "COUNT(*)" in counted[1]
    # A window that ends before the rows do knows the count without asking.
    assert len(statements("/rest/v1/todos?n=gte.0&limit=50", prefer="count=exact")) == 1


@pytest.mark.django_db
def test_a_single_object_write_of_several_rows_is_refused_and_undone(app):
    alice = app["alice"]
    refused = alice.post(
        "/rest/v1/todos",
        [{"n": 1}, {"n": 2}],
        prefer="return=representation",
        accept="application/vnd.pgrst.object+json",
    )
    error(refused, 406, "PGRST116")
    assert alice.get("/rest/v1/todos").json() == []
    one = alice.post(
        "/rest/v1/todos?select=n",
        {"n": 3},
        prefer="return=representation",
        accept="application/vnd.pgrst.object+json",
    )
    assert one.status_code == 201 and one.json() == {"n": 3}


@pytest.mark.django_db
def test_a_closed_schema_names_every_column(app, membership_a, project_a, make_collection):  # noqa: F811
    closed = {"type": "object", "properties": {"a": {}}, "additionalProperties": False}
    make_collection(membership_a, project_a, "closed", json_schema=closed)
    response = app["secret"].get("/rest/v1/closed?select=a,b")
    body = error(response, 400, "42703")
    assert body["message"] == "column closed.b does not exist"
    assert app["secret"].get("/rest/v1/closed?select=a,id&a=is.null").json() == []


@pytest.mark.django_db
def test_writes_announce_after_commit_with_the_end_user(app, django_capture_on_commit_callbacks):
    created, changed = [], []

    def on_created(sender, **payload):
        created.append(payload)

    def on_changed(sender, **payload):
        changed.append(payload)

    records_created.connect(on_created, dispatch_uid="test-rest-created")
    record_changed.connect(on_changed, dispatch_uid="test-rest-changed")
    alice_id = app["users"]["alice"][0].id
    try:
        with django_capture_on_commit_callbacks(execute=True):
            app["alice"].post("/rest/v1/todos", [{"n": 1}, {"n": 2}])
        with django_capture_on_commit_callbacks(execute=True):
            app["alice"].patch("/rest/v1/todos?n=eq.1", {"done": True})
        with django_capture_on_commit_callbacks(execute=True):
            app["alice"].delete("/rest/v1/todos?n=gte.0")
    finally:
        records_created.disconnect(dispatch_uid="test-rest-created")
        record_changed.disconnect(dispatch_uid="test-rest-changed")
    assert len(created) == 1 and created[0]["end_user_id"] == alice_id
    assert [data for _, data in created[0]["records"]] == [{"n": 1}, {"n": 2}]
    assert [(e["op"], e["data"]) for e in changed[:1]] == [("update", {"n": 1, "done": True})]
    assert sorted(e["op"] for e in changed) == ["delete", "delete", "update"]
    assert {e["end_user_id"] for e in changed} == {alice_id}


@pytest.mark.django_db
def test_a_bulk_insert_reaches_realtime_with_its_end_user(
    app, monkeypatch, django_capture_on_commit_callbacks
):
    """Client sockets decide an owner rule with the event's end user (realtime.client)."""
    sent = []
    monkeypatch.setattr(
        realtime_events.layer, "group_send_many", lambda group, batch: sent.extend(batch)
    )
    monkeypatch.setattr(
        realtime_events.layer, "group_send", lambda group, event: sent.append(event)
    )
    with django_capture_on_commit_callbacks(execute=True):
        app["alice"].post("/rest/v1/todos", [{"n": 1}, {"n": 2}])
    alice_id = str(app["users"]["alice"][0].id)
    assert [(e["op"], e["end_user_id"]) for e in sent] == [("insert", alice_id)] * 2


@pytest.mark.django_db
def test_null_is_neither_equal_nor_unequal(app):
    alice = app["alice"]
    made = alice.post("/rest/v1/todos", [{"t": "a"}, {"t": None}, {}])
    assert made.status_code == 201, made.content
    assert alice.get("/rest/v1/todos?t=neq.b&select=t").json() == [{"t": "a"}]
    assert len(alice.get("/rest/v1/todos?t=is.null").json()) == 2
    posts = [{"title": "a", "score": 1}, {"title": "b", "score": None}, {"title": "c"}]
    assert alice.post("/rest/v1/posts", posts).status_code == 201
    assert alice.get("/rest/v1/posts?score=neq.2&select=title").json() == [{"title": "a"}]
    assert len(alice.get("/rest/v1/posts?score=is.null").json()) == 2
    assert len(alice.get("/rest/v1/posts?score=not.is.null").json()) == 1
