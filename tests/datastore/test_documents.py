"""Documents API and its tenant-scoped repository.

MongoDB is the one fake in the suite: these tests run on mongomock when MONGODB_URL is unset,
and against that real server when it is set (same module, same assertions).
"""

import pytest

from datastore import documents
from datastore.documents import DocumentQueryError, TenantDocuments
from tenants.constants import Role
from tests.datastore.conftest import as_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def mongo(document_store):
    return document_store


@pytest.fixture
def notes_a(membership_a, project_a, make_collection):
    return make_collection(membership_a, project_a, name="notes", store="documents")


@pytest.fixture
def notes_b(membership_b, project_b, make_collection):
    return make_collection(membership_b, project_b, name="notes", store="documents")


def docs_url(project, name="notes"):
    return f"/api/v1/orgs/{project.org.slug}/projects/{project.id}/documents/{name}/"


def test_crud_filter_sort_count_and_etag(notes_a, project_a, user, client_for):
    client = client_for(user)
    url = docs_url(project_a)
    created = client.post(
        url,
        {"items": [{"title": f"t{i}", "n": i, "tags": ["x"] * (i % 2)} for i in range(6)]},
        format="json",
    )
    assert created.status_code == 201, created.content
    listed = client.get(url, {"filter": '{"n": {"$gte": 2}}', "sort": "-n", "count": "true"})
    assert listed.status_code == 200, listed.content
    body = listed.json()
    assert [d["data"]["n"] for d in body["results"]] == [5, 4, 3, 2]
    assert body["count"] == 4
    one = client.post(url, {"data": {"title": "solo"}}, format="json")
    assert one.status_code == 201 and one["ETag"] == '"1"'
    doc_url = f"{url}{one.json()['id']}/"
    patched = client.patch(doc_url, {"data": {"body": "hi"}}, format="json", HTTP_IF_MATCH='"1"')
    assert patched.status_code == 200, patched.content
    assert patched.json()["data"] == {"title": "solo", "body": "hi"}
    assert client.put(doc_url, {"data": {}}, format="json", HTTP_IF_MATCH='"1"').status_code == 412
    assert client.put(doc_url, {"data": {"title": "re"}}, format="json").json()["data"] == {
        "title": "re"
    }
    assert client.get(doc_url).json()["version"] == 3
    assert client.delete(doc_url).status_code == 204
    assert client.get(doc_url).status_code == 404


def test_org_b_sees_nothing_of_org_a(
    notes_a, notes_b, project_a, project_b, user, other_user, client_for
):
    a = client_for(user)
    doc = a.post(docs_url(project_a), {"data": {"secret": "A"}}, format="json").json()
    b = client_for(other_user)
    b.post(docs_url(project_b), {"data": {"secret": "B"}}, format="json")
    for target in (f"{docs_url(project_a)}{doc['id']}/", f"{docs_url(project_b)}{doc['id']}/"):
        for method in ("get", "put", "patch", "delete"):
            response = getattr(b, method)(target, {"data": {"x": 1}}, format="json")
            assert response.status_code == 404, (method, target)
    body = b.get(docs_url(project_b), {"count": "true", "filter": "{}"}).json()
    assert [d["data"]["secret"] for d in body["results"]] == ["B"] and body["count"] == 1
    agg = b.post(
        f"{docs_url(project_b)}aggregate/",
        {"pipeline": [{"$group": {"_id": "$secret", "n": {"$sum": 1}}}]},
        format="json",
    )
    assert agg.status_code == 200 and agg.json()["results"] == [{"_id": "B", "n": 1}]
    assert a.get(f"{docs_url(project_a)}{doc['id']}/").json()["data"] == {"secret": "A"}


def test_repository_injects_the_org_even_for_the_same_physical_collection(
    notes_a, membership_a, membership_b
):
    as_member(membership_a)
    TenantDocuments(collection=notes_a, membership=membership_a).insert_many([{"k": 1}])
    with pytest.raises(DocumentQueryError):  # a member of B cannot open A's collection
        TenantDocuments(collection=notes_a, membership=membership_b)
    raw = documents.get_database()[documents.physical_name(notes_a.id)].find_one()
    assert raw["org_id"] == str(notes_a.org_id) and raw["owner_id"] == membership_a.user_id


@pytest.mark.parametrize(
    "query",
    [
        {"org_id": {"$ne": "x"}},
        {"org_id": "someone-else"},
        {"$or": [{"org_id": {"$exists": True}}]},
        {"project_id": {"$ne": None}},
        {"owner_id": 1},
        {"$where": "this.org_id != ''"},
        {"a": {"$where": "1"}},
        {"$expr": {"$ne": ["$org_id", "x"]}},
        {"a": {"$function": {"body": "return true", "args": [], "lang": "js"}}},
        {"a": {"$regex": ".*"}},
        {"a": {"b": {"$ne": 1}}},
        {"a": {"$in": "notalist"}},
        {"$and": []},
        {"a.$": 1},
        ["not", "an", "object"],
    ],
)
def test_injection_attempts_in_filters_are_400(notes_a, project_a, user, client_for, query):
    import json

    response = client_for(user).get(docs_url(project_a), {"filter": json.dumps(query)})
    assert response.status_code == 400, (query, response.content)


@pytest.mark.parametrize(
    "pipeline",
    [
        [{"$lookup": {"from": "d_other", "localField": "a", "foreignField": "a", "as": "x"}}],
        [{"$unionWith": {"coll": "d_other"}}],
        [{"$out": "stolen"}],
        [{"$merge": {"into": "stolen"}}],
        [{"$graphLookup": {"from": "d_other"}}],
        [{"$match": {"org_id": {"$ne": "x"}}}],
        [{"$group": {"_id": None, "x": {"$accumulator": {"init": "function(){}"}}}}],
        [{"$project": {"x": {"$function": {"body": "f", "args": [], "lang": "js"}}}}],
        [{"$facet": {"a": [{"$lookup": {"from": "d_other"}}]}}],
        "not a list",
    ],
)
def test_escaping_pipelines_are_400(notes_a, project_a, user, client_for, pipeline):
    response = client_for(user).post(
        f"{docs_url(project_a)}aggregate/", {"pipeline": pipeline}, format="json"
    )
    assert response.status_code == 400, (pipeline, response.content)


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"org_id": "x"}},
        {"data": {"owner_id": 5}},
        {"data": {"_id": "abc"}},
        {"data": {"$set": {"a": 1}}},
        {"data": {"a": {"$gt": 1}}},
        {"data": {"a.b": 1}},
        {"items": [{"ok": 1}, {"org_id": "x"}]},
    ],
)
def test_client_supplied_scope_fields_are_refused(notes_a, project_a, user, client_for, body):
    client = client_for(user)
    response = client.post(docs_url(project_a), body, format="json")
    assert response.status_code == 400, response.content
    assert client.get(docs_url(project_a), {"count": "true"}).json()["count"] == 0


def test_patch_with_org_or_owner_changes_nothing(
    notes_a, notes_b, project_a, user, other_user, client_for
):
    client = client_for(user)
    doc = client.post(docs_url(project_a), {"data": {"v": 1}}, format="json").json()
    for forged in ({"org_id": str(notes_b.org_id)}, {"owner_id": other_user.pk}):
        response = client.patch(
            f"{docs_url(project_a)}{doc['id']}/", {"data": forged}, format="json"
        )
        assert response.status_code == 400
    raw = documents.get_database()[documents.physical_name(notes_a.id)].find_one()
    assert raw["org_id"] == str(notes_a.org_id) and raw["owner_id"] == user.pk
    assert raw["_v"] == 1


def test_indexes_always_start_with_org_id(notes_a, project_a, user, client_for):
    client = client_for(user)
    url = f"{docs_url(project_a)}indexes/"
    created = client.post(url, {"keys": [["email", 1], ["n", -1]], "unique": True}, format="json")
    assert created.status_code == 201, created.content
    info = documents.get_database()[documents.physical_name(notes_a.id)].index_information()
    client_indexes = [v["key"] for k, v in info.items() if k != "_id_"]
    assert client_indexes and all(key[0] == ("org_id", 1) for key in client_indexes)
    listed = client.get(url).json()["results"]
    assert listed == [
        {"name": created.json()["name"], "keys": [["email", 1], ["n", -1]], "unique": True}
    ]
    for bad in (
        {"keys": [["org_id", 1]]},
        {"keys": [["$where", 1]]},
        {"keys": [["a", "text"]]},
        {"keys": []},
    ):
        assert client.post(url, bad, format="json").status_code == 400, bad
    assert client.delete(f"{url}_id_/").status_code == 404  # not a client index
    assert client.delete(f"{url}{created.json()['name']}/").status_code == 204
    assert client.get(url).json()["results"] == []


def test_owner_only_documents(membership_a, project_a, make_collection, add_member, client_for):
    make_collection(membership_a, project_a, name="diary", store="documents", access="owner")
    dev1, dev2, admin = (
        add_member(Role.DEVELOPER),
        add_member(Role.DEVELOPER),
        add_member(Role.ADMIN),
    )
    url = docs_url(project_a, "diary")
    mine = client_for(dev1.user).post(url, {"data": {"d": 1}}, format="json").json()
    client_for(dev2.user).post(url, {"data": {"d": 2}}, format="json")
    assert [d["data"]["d"] for d in client_for(dev2.user).get(url).json()["results"]] == [2]
    assert client_for(dev2.user).get(f"{url}{mine['id']}/").status_code == 404
    assert client_for(dev2.user).delete(f"{url}{mine['id']}/").status_code == 404
    assert sorted(d["data"]["d"] for d in client_for(admin.user).get(url).json()["results"]) == [
        1,
        2,
    ]


def test_client_factory_honours_mongodb_url(settings):
    documents.set_client(None)
    settings.MONGODB_URL = (
        "mongodb://app:secret@db1.example:27017,db2.example:27017/"
        "?replicaSet=rs0&tls=true&authSource=admin"
    )
    client = documents.get_client()
    try:
        options = client.options
        assert options.replica_set_name == "rs0"
        assert options.pool_options._ssl_context is not None  # TLS on
        assert options.pool_options._credentials.username == "app"
        assert options.server_selection_timeout == settings.MONGODB_TIMEOUT_MS / 1000
    finally:
        client.close()
        documents.set_client(None)


def test_without_mongodb_url_the_api_answers_503(notes_a, project_a, user, client_for, settings):
    documents.set_client(None)
    settings.MONGODB_URL = ""
    response = client_for(user).get(docs_url(project_a))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "document_store_unavailable"


def test_json_schema_applies_to_documents(
    membership_a, project_a, make_collection, user, client_for
):
    make_collection(
        membership_a,
        project_a,
        name="typed",
        store="documents",
        json_schema={"type": "object", "properties": {"n": {"type": "integer"}}},
    )
    client = client_for(user)
    url = docs_url(project_a, "typed")
    assert client.post(url, {"data": {"n": "x"}}, format="json").status_code == 400
    doc = client.post(url, {"data": {"n": 1}}, format="json").json()
    patched = client.patch(f"{url}{doc['id']}/", {"data": {"n": "y"}}, format="json")
    assert patched.status_code == 400
    assert client.get(f"{url}{doc['id']}/").json()["data"] == {"n": 1}


def test_deleting_a_documents_collection_drops_its_documents(
    notes_a, project_a, user, client_for, django_capture_on_commit_callbacks
):
    client = client_for(user)
    client.post(docs_url(project_a), {"data": {"x": 1}}, format="json")
    name = documents.physical_name(notes_a.id)
    assert name in documents.get_database().list_collection_names()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/api/v1/orgs/org-a/projects/{project_a.id}/collections/notes/")
    assert response.status_code == 204
    assert name not in documents.get_database().list_collection_names()


@pytest.mark.parametrize("text", ["{bad", "[" * 50000, '{"a": ' * 5000 + "1" + "}" * 5000])
def test_unparseable_or_too_deep_filters_are_400(notes_a, project_a, user, client_for, text):
    response = client_for(user).get(docs_url(project_a), {"filter": text})
    assert response.status_code == 400


def test_the_repository_checks_the_role_not_only_the_view(notes_a, add_member):
    """A viewer reaching ``TenantDocuments`` by any path (API, Studio, a task) reads, and only
    reads: the check is in the repository every call goes through."""
    from django.core.exceptions import PermissionDenied

    developer, viewer = add_member(Role.DEVELOPER), add_member(Role.VIEWER)
    as_member(developer)
    (doc,) = TenantDocuments(collection=notes_a, membership=developer).insert_many([{"n": 1}])
    as_member(viewer)
    seen = TenantDocuments(collection=notes_a, membership=viewer)
    assert [d["id"] for d in seen.find(None)] == [doc["id"]] and seen.count(None) == 1
    writes = [
        lambda: seen.insert_many([{"n": 2}]),
        lambda: seen.write(doc["id"], {"n": 3}, merge=True),
        lambda: seen.delete(doc["id"]),
        lambda: seen.create_index([["n", 1]]),
        lambda: seen.drop_index("anything"),
    ]
    for write in writes:
        with pytest.raises(PermissionDenied):
            write()
    assert seen.get(doc["id"])["data"] == {"n": 1} and seen.list_indexes() == []
