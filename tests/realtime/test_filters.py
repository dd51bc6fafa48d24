"""Subscription filters speak the data API's grammar and select what the data API would list.

Records are written through the REST API into a real collection, so events travel the real
path: service, after-commit signal, relay, channels-redis on the test Redis, consumer, socket.
"""

import json
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.datastore.test_filter_property import OPS, PATHS, documents, filter_text, well_formed
from tests.realtime.sockets import connect, drain, run, subscribe

TASKS = [
    {"title": "Deploy the API", "status": "open", "priority": 3, "tags": ["urgent", "ops"]},
    {"title": "deploy docs", "status": "review", "priority": 2, "tags": ["urgent"]},
    {"title": "Write tests", "status": "open", "priority": 1, "tags": []},
    {"title": "hot-fix login", "status": "done", "priority": 2.0, "assignee": {"name": "ann"}},
    {"title": "hot fix typo", "status": "open", "priority": "high", "assignee": None},
    {"status": "open", "priority": True, "tags": "urgent"},
    {"id": "t-7", "status": "archived"},  # its own "id" field, not the record's id
]


def test_a_subscriber_receives_exactly_the_changes_its_filters_select(world, tasks):
    subscriptions = {
        # status in (open, review) AND priority >= 2 AND "urgent" is one of the tags
        "list": [
            'status:in:["open","review"]',
            "priority:gte:2",
            'tags:contains:"urgent"',
        ],
        # the data API's query string: title has the word "deploy" (any case), no assignee
        "query": urlencode(
            [("filter", 'title:search:"DEPLOY"'), ("filter", "assignee:exists:false")]
        ),
        # a number below 2.5 (2.0 is one; a string or a boolean is not), status not "open"
        "neq_lt": ["priority:lt:2.5", 'status:neq:"open"'],
        # a JSON null counts as present
        "present": ["assignee:exists:true"],
        "nested": ['assignee.name:eq:"ann"'],
        # object shorthand: one eq filter per key (true does not equal 1)
        "object": {"status": "open", "priority": 1},
        # "hot-fix" is one hyphenated word to PostgreSQL: decided by the database
        "hyphen": ['title:search:"hot-fix"'],
        # filters see the record's data: the id subscribers receive is not part of it
        "own_id": ['id:eq:"t-7"'],
        "no_id": ["id:exists:false"],
    }

    async def body():
        ws = await connect(world.token(world.viewer_a))
        names = {}
        for name, raw in subscriptions.items():
            names[await subscribe(ws, "org-a", collection=tasks.collection_id, filter=raw)] = name
        ids = await sync_to_async(tasks.create)(*TASKS)
        # Writes after the inserts: an update that leaves "list", one that enters it, a delete.
        patch = sync_to_async(tasks.client.patch)
        await patch(f"{tasks.url}{ids[0]}/", {"data": {"priority": 1}}, format="json")
        await patch(f"{tasks.url}{ids[2]}/", {"data": {"priority": 5, "tags": ["urgent"]}},
                    format="json")  # fmt: skip
        await sync_to_async(tasks.client.delete)(f"{tasks.url}{ids[1]}/")
        got = await drain(ws, timeout=1)
        await ws.disconnect()
        return ids, names, got

    ids, names, got = run(body)
    received = {name: [] for name in subscriptions}
    for message in got:
        received[names[message["subscription"]]].append((message["op"], ids.index(message["id"])))
    assert received == {
        "list": [("insert", 0), ("insert", 1), ("update", 2), ("delete", 1)],
        "query": [("insert", 0), ("insert", 1), ("update", 0), ("delete", 1)],
        "neq_lt": [("insert", 1), ("insert", 3), ("delete", 1)],
        "present": [("insert", 3), ("insert", 4)],
        "nested": [("insert", 3)],
        "object": [("insert", 2), ("update", 0)],
        "hyphen": [("insert", 3)],
        "own_id": [("insert", 6)],
        "no_id": [*[("insert", i) for i in range(6)], ("update", 0), ("update", 2), ("delete", 1)],
    }
    assert tasks.listed(['id:eq:"t-7"']) == (200, {ids[6]})
    assert tasks.listed(["id:exists:false"]) == (200, {ids[0], *ids[2:6]})
    # Subscribers still get the record as the data API stores it, with its id.
    first = next(m for m in got if m["id"] == ids[0])
    assert first["record"] == {**TASKS[0], "id": ids[0]}
    own = next(m for m in got if m["id"] == ids[6])
    assert own["record"] == {"id": ids[6], "status": "archived"}


def test_bad_filters_are_refused_on_the_socket_which_stays_open(world):
    bad_filters = [
        ['title:like:"x"'],  # unknown operator
        ["title:eq:'x'"],  # not JSON
        ["priority:gt:[1]"],  # gt compares with a number or a string
        ["done:exists:1"],
        ["1title:eq:1"],  # not a path
        ["title"],
        [5],
        ["a:eq:1"] * 21,  # more than the data API's 20
        "status=open",  # a query string of something else than filter=...
        "filter=a:eq:1&&",
        {"a.": 1},
        5,
    ]

    collection = str(world.tasks_a.id)

    async def body():
        ws = await connect(world.token(world.viewer_a))
        replies = []
        for raw in bad_filters:
            await ws.send_json_to(
                {"type": "subscribe", "org": "org-a", "collection": collection, "filter": raw}
            )
            replies.append(await ws.receive_json_from(timeout=5))
        # NaN is not JSON, though Python's decoder takes it.
        await ws.send_input(
            {
                "type": "websocket.receive",
                "text": f'{{"type": "subscribe", "org": "org-a", "collection": "{collection}",'
                ' "filter": {"a": NaN}}',
            }
        )
        replies.append(await ws.receive_json_from(timeout=5))
        await ws.send_json_to({"type": "heartbeat"})
        pong = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return replies, pong

    replies, pong = run(body)
    assert [(r["type"], r["code"]) for r in replies] == [("error", "invalid")] * len(replies)
    assert "Unknown operator" in replies[0]["message"]
    assert all(r["message"] for r in replies)
    assert pong["type"] == "heartbeat"


def _leaves(rows):
    """Every value found at a filterable path of the rows (to build filters that match)."""
    found = []
    for row in rows:
        for path in PATHS:
            node = row
            for part in path.split("."):
                node = node.get(part, found) if isinstance(node, dict) else found
            if node is not found:
                found.append(node)
                found.extend(node if isinstance(node, list) else [])
    return found


@st.composite
def filters_for(draw, rows):
    """Filters over values the rows hold, each with a value its operator accepts."""
    leaves = _leaves(rows) or [0]
    scalars = [v for v in leaves if not isinstance(v, list | dict)] or [0]
    path, op = draw(st.sampled_from(PATHS)), draw(st.sampled_from(OPS))
    if op == "exists":
        value = draw(st.booleans())
    elif op == "in":
        value = draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=3))
    elif op == "contains":
        value = draw(st.sampled_from(scalars))
    elif op == "search":
        texts = [w for v in scalars if isinstance(v, str) for w in [v, *v.split()] if w.strip()]
        value = draw(st.sampled_from(texts or ["fox"]))
    elif op in ("lt", "lte", "gt", "gte"):
        ordered = [v for v in scalars if isinstance(v, int | float | str) and v is not True
                   and v is not False]  # fmt: skip
        value = draw(st.sampled_from(ordered or [0]))
    else:
        value = draw(st.sampled_from(leaves))
    return f"{path}:{op}:{json.dumps(value)}"


@st.composite
def cases(draw):
    rows = draw(st.lists(documents, min_size=1, max_size=10))
    one = st.one_of(*[filters_for(rows)] * 4, well_formed, filter_text)
    return rows, draw(st.lists(one, min_size=1, max_size=3))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    case=cases(),
    as_query_string=st.booleans(),
)
def test_subscriptions_select_what_the_data_api_lists(world, tasks, case, as_query_string):
    """For any records and any filters: the socket's filtered subscription receives exactly
    the inserts whose records the data API lists with the same filters, or both refuse."""
    from datastore.models import Record

    rows, chosen = case
    Record.objects.using("owner").filter(collection_id=tasks.collection_id).delete()
    raw = urlencode([("filter", text) for text in chosen]) if as_query_string else chosen

    async def body():
        ws = await connect(world.token(world.owner_a))
        await ws.send_json_to(
            {"type": "subscribe", "org": "org-a", "collection": tasks.collection_id,
             "filter": raw}
        )  # fmt: skip
        reply = await ws.receive_json_from(timeout=5)
        if reply["type"] == "error":
            await ws.disconnect()
            return reply, None, None
        # A second, unfiltered subscription on the same socket: the consumer handles each
        # event for s1 before s2, so once s2 has all inserts, s1 has had every chance.
        everything = await subscribe(ws, "org-a", collection=tasks.collection_id)
        ids = await sync_to_async(tasks.create)(*rows)
        accepted, seen = set(), 0
        while seen < len(ids):
            message = await ws.receive_json_from(timeout=5)
            if message["subscription"] == everything:
                seen += 1
            else:
                assert message["subscription"] == reply["subscription"]
                accepted.add(message["id"])
        late = await drain(ws, timeout=0.05)
        await ws.disconnect()
        return reply, accepted, late

    reply, accepted, late = run(body)
    status, listed = tasks.listed(chosen)
    if reply["type"] == "error":
        event("refused")
        assert (reply["code"], status) == ("invalid", 400), (chosen, reply)
        return
    event(
        "none accepted"
        if not listed
        else "all accepted"
        if len(listed) == len(rows)
        else "some accepted"
    )
    assert status == 200, chosen
    assert late == []
    assert accepted == listed, (chosen, json.dumps(rows))
