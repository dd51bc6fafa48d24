"""Documents in MongoDB, always through one tenant-scoped repository.

``TenantDocuments`` is the only way the platform touches a document collection. It injects
the org (and project, and the owner in an owner-only collection for a non-admin) into every
filter, insert, update, aggregation and index, and refuses what could step outside that scope:
``$where``, ``$function``, ``$accumulator``, ``$expr``, ``$lookup``/``$graphLookup``/
``$unionWith``/``$out``/``$merge``, any operator not on the allow-list, and any client-supplied
``org_id``/``project_id``/``owner_id``.

Client apps (``client``: anon, an end user, the secret key of the collection's project) go
through the same repository; the project's access rules are applied in it, as the record
policies apply them in PostgreSQL: select, update and delete see only what the rule's subject
allows (owner: ``end_user_id`` is the caller; role: the caller holds the app role; a
condition: ``access.policies.rule_allows`` on each candidate), inserts and updates are
checked with ``rule_allows``. No rule: closed.

Stored shape: ``{_id, org_id, project_id, owner_id, end_user_id, _v, _created, _updated,
<client fields>}`` (``end_user_id`` is set by the server for a signed-in end user's insert).
The client factory reads ``MONGODB_URL`` (any pymongo URI: TLS, auth, replica set options).
"""

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pymongo
from django.conf import settings
from pymongo.errors import PyMongoError

from access import selectors as access_selectors
from access.constants import SERVICE_ROLE, RuleKind
from access.policies import Caller, rule_allows
from authn.audit import audit_org_write
from authn.constants import AuditAction
from datastore.constants import MAX_PAGE, Access
from datastore.exceptions import RuleRefused, VersionMismatch
from datastore.merge_patch import merge_patch
from tenants.constants import MANAGE_SCHEMA, PRIVILEGED_ROLES, VIEW_DATA, WRITE_DATA
from tenants.permissions import require_org_perm

RESERVED_FIELDS = frozenset({"org_id", "project_id", "owner_id", "end_user_id"})
# Matches no document: a client app's operation that no rule allows.
CLOSED = {"org_id": {"$in": []}}  # replaces the org in a scope; callers add only _id
QUERY_OPERATORS = frozenset(
    {
        "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists",
        "$and", "$or", "$nor", "$not", "$all", "$elemMatch", "$size", "$type",
    }
)  # fmt: skip
PIPELINE_STAGES = frozenset(
    {"$match", "$project", "$sort", "$limit", "$skip", "$group", "$count", "$unwind", "$set"}
)
# Refused anywhere in a filter or a pipeline, whatever the nesting.
FORBIDDEN = frozenset(
    {
        "$where", "$function", "$accumulator", "$expr", "$lookup", "$graphLookup",
        "$unionWith", "$out", "$merge", "$jsonSchema", "$text", "$regex",
    }
)  # fmt: skip
MAX_DEPTH = 12
PIPELINE_RESULT_LIMIT = 1000


class DocumentQueryError(ValueError):
    """A filter, document, pipeline or index the repository refuses (HTTP 400)."""


class DocumentStoreUnavailable(RuntimeError):
    """MongoDB is not configured or not reachable (HTTP 503)."""


_client = None
_lock = threading.Lock()


def get_client():
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                url = settings.MONGODB_URL
                if not url:
                    raise DocumentStoreUnavailable("MONGODB_URL is not set.")
                _client = pymongo.MongoClient(
                    url,
                    tz_aware=True,
                    appname="platform",
                    serverSelectionTimeoutMS=settings.MONGODB_TIMEOUT_MS,
                    connectTimeoutMS=settings.MONGODB_TIMEOUT_MS,
                )
    return _client


def set_client(client) -> None:
    """Replace the process's client (tests use mongomock when MONGODB_URL is unset)."""
    global _client
    _client = client


def get_database():
    return get_client().get_default_database(default=settings.MONGODB_DATABASE)


def physical_name(collection_id) -> str:
    return f"d_{uuid.UUID(str(collection_id)).hex}"


# --- validation ----------------------------------------------------------------------------
def _check_field(name: Any, *, allow_id: bool = True) -> None:
    if not isinstance(name, str) or not name or len(name) > 200:
        raise DocumentQueryError("Field names are non-empty strings.")
    root = name.split(".", 1)[0]
    if root in RESERVED_FIELDS:
        raise DocumentQueryError(f"{root} is set by the platform, not by the client.")
    if root.startswith("_") and not (allow_id and root == "_id"):
        raise DocumentQueryError(f"Fields starting with _ are reserved ({name[:40]}).")
    if "$" in name or "\x00" in name:
        raise DocumentQueryError("Field names cannot contain $.")


def _check_forbidden(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise DocumentQueryError("Too deeply nested.")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise DocumentQueryError("Keys are strings.")
            if key in FORBIDDEN:
                raise DocumentQueryError(f"{key} is not allowed.")
            _check_forbidden(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_forbidden(item, depth + 1)


def validate_filter(query: Any, depth: int = 0) -> dict:
    """Check a client filter against the allow-list; returns it unchanged."""
    if not isinstance(query, dict):
        raise DocumentQueryError("A filter is a JSON object.")
    _check_forbidden(query)
    _validate_filter(query, depth)
    return query


def _validate_filter(query: dict, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise DocumentQueryError("The filter is too deeply nested.")
    for key, value in query.items():
        if key.startswith("$"):
            if key not in ("$and", "$or", "$nor"):
                raise DocumentQueryError(f"{key} is not allowed at this level.")
            if not isinstance(value, list) or not value or len(value) > 50:
                raise DocumentQueryError(f"{key} takes a list of 1 to 50 filters.")
            for clause in value:
                if not isinstance(clause, dict):
                    raise DocumentQueryError(f"{key} takes filters (objects).")
                _validate_filter(clause, depth + 1)
        else:
            _check_field(key)
            _validate_condition(value, depth + 1)


def _validate_condition(value: Any, depth: int) -> None:
    if not isinstance(value, dict) or not any(str(k).startswith("$") for k in value):
        _check_value(value)
        return  # equality with a literal
    for op, arg in value.items():
        if op not in QUERY_OPERATORS or op in ("$and", "$or", "$nor"):
            raise DocumentQueryError(f"Unknown or refused operator {str(op)[:30]}.")
        if op in ("$in", "$nin", "$all"):
            if not isinstance(arg, list) or len(arg) > 1000:
                raise DocumentQueryError(f"{op} takes a list.")
            for item in arg:
                _check_value(item)
        elif op == "$exists":
            if not isinstance(arg, bool):
                raise DocumentQueryError("$exists takes true or false.")
        elif op == "$size":
            if not isinstance(arg, int) or isinstance(arg, bool) or arg < 0:
                raise DocumentQueryError("$size takes a non-negative integer.")
        elif op == "$type":
            if not isinstance(arg, str):
                raise DocumentQueryError("$type takes a type name.")
        elif op == "$not":
            if not isinstance(arg, dict) or not arg:
                raise DocumentQueryError("$not takes an operator expression.")
            _validate_condition(arg, depth + 1)
        elif op == "$elemMatch":
            if not isinstance(arg, dict):
                raise DocumentQueryError("$elemMatch takes a filter.")
            if any(str(k).startswith("$") for k in arg):
                _validate_condition(arg, depth + 1)
            else:
                _validate_filter(arg, depth + 1)
        else:
            _check_value(arg)


def _check_value(value: Any) -> None:
    """Literal values: no operator keys hidden inside (``{"a": {"b": {"$ne": 1}}}``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).startswith("$"):
                raise DocumentQueryError("Operators are only allowed right after a field.")
            _check_value(item)
    elif isinstance(value, list):
        for item in value:
            _check_value(item)


def validate_body(body: Any, depth: int = 0) -> dict:
    """A document as the client sends it: an object of client fields."""
    if not isinstance(body, dict):
        raise DocumentQueryError("A document is a JSON object.")
    _validate_body(body, depth, top=True)
    return body


def _validate_body(value: Any, depth: int, top: bool = False) -> None:
    if depth > MAX_DEPTH:
        raise DocumentQueryError("The document is too deeply nested.")
    if isinstance(value, dict):
        for key, item in value.items():
            if top:
                _check_field(key, allow_id=False)
            if not isinstance(key, str) or key.startswith("$") or "." in key or not key:
                raise DocumentQueryError("Keys cannot be empty, start with $ or contain dots.")
            _validate_body(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _validate_body(item, depth + 1)


def parse_sort(text: str | None) -> list[tuple[str, int]]:
    if not text:
        return [("_created", 1), ("_id", 1)]
    keys = []
    for part in text.split(","):
        direction = -1 if part.startswith("-") else 1
        name = part.lstrip("-")
        if name == "$created_at":
            name = "_created"
        else:
            _check_field(name)
        keys.append((name, direction))
    if len(keys) > 4:
        raise DocumentQueryError("Sort on at most 4 fields.")
    return [*keys, ("_id", 1)]


def validate_index_keys(keys: Any) -> list[tuple[str, int]]:
    if not isinstance(keys, list) or not 0 < len(keys) <= 8:
        raise DocumentQueryError('keys is a list of 1 to 8 ["field", 1 or -1] pairs.')
    cleaned = []
    for item in keys:
        if not (isinstance(item, list) and len(item) == 2 and item[1] in (1, -1)):
            raise DocumentQueryError('Each key is ["field", 1] or ["field", -1].')
        if isinstance(item[1], bool):
            raise DocumentQueryError("Directions are 1 or -1.")
        _check_field(item[0], allow_id=False)
        cleaned.append((item[0], item[1]))
    return cleaned


def _now() -> datetime:
    return datetime.now(UTC)


def present(doc: dict) -> dict:
    """The API's view of a stored document."""
    data = {k: v for k, v in doc.items() if k not in RESERVED_FIELDS and not k.startswith("_")}
    created, updated = doc.get("_created"), doc.get("_updated")
    return {
        "id": doc["_id"],
        "data": data,
        "owner_id": doc.get("owner_id"),
        "end_user_id": doc.get("end_user_id"),
        "version": doc.get("_v", 1),
        "created_at": created.isoformat() if created else None,
        "updated_at": updated.isoformat() if updated else None,
    }


# --- the repository ------------------------------------------------------------------------
class TenantDocuments:
    """One document collection, seen from one member of one org, or from one client app of
    the collection's project.

    For a member every method checks the permission first: reads ``VIEW_DATA``, writes
    ``WRITE_DATA``, indexes ``MANAGE_SCHEMA``. For a client app the access rules decide.
    """

    def __init__(self, *, collection, membership=None, client=None):
        if (membership is None) == (client is None):
            raise TypeError("Documents are read for a membership or for a client app.")
        self.membership = membership
        self.client = client
        self.caller = None
        self.rules: dict = {}
        if membership is not None:
            if str(collection.org_id) != str(membership.org_id):
                raise DocumentQueryError("The collection is not in the member's org.")
            self.user_id = membership.user_id
            self.owner_scoped = (
                collection.access == Access.OWNER and membership.role not in PRIVILEGED_ROLES
            )
        else:
            if str(collection.project_id) != str(client.project_id):
                raise DocumentQueryError("The collection is not in the client's project.")
            self.user_id = None
            self.owner_scoped = False
            self.caller = Caller(
                project_id=client.project_id,
                client_role=client.role,
                end_user_id=client.end_user_id,
                app_roles=tuple(client.app_roles),
            )
            if client.role != SERVICE_ROLE:
                self.rules = access_selectors.rules_of_resource(
                    project_id=client.project_id, resource_id=collection.id, client_role=client.role
                )
        self.collection_row = collection
        self.org_id = str(collection.org_id)
        self.project_id = str(collection.project_id)
        self.json_schema = collection.json_schema
        self.collection = get_database()[physical_name(collection.id)]

    # --- who may do what -------------------------------------------------------------------
    def _require(self, permission: str) -> None:
        if self.membership is not None:
            require_org_perm(self.membership, permission)
        elif permission == MANAGE_SCHEMA:
            raise RuleRefused()  # indexes are the developers'

    def _rule_scope(self, operation: str) -> dict | None:
        """The Mongo filter a client's rule for ``operation`` implies, or None (nobody);
        conditions are checked on each candidate (``_allows``)."""
        if self.caller.client_role == SERVICE_ROLE:
            return {}
        rule = self.rules.get(operation)
        if rule is None:
            return None
        if rule.kind == RuleKind.EVERYONE:
            return {}
        if rule.kind == RuleKind.OWNER and self.caller.end_user_id is not None:
            return {"end_user_id": str(self.caller.end_user_id)}
        if rule.kind == RuleKind.ROLE and rule.app_role in self.caller.app_roles:
            return {}
        return None

    def _allows(self, operation: str, doc: dict) -> bool:
        """The rule's whole check (the Python twin of the record policies) on a stored
        document, or on a new one (``end_user_id`` is then the caller's)."""
        if self.caller is None:
            return True
        rule = self.rules.get(operation)
        return rule_allows(
            rule, caller=self.caller, owner_id=doc.get("end_user_id"), data=present(doc)["data"]
        )

    def _conditional(self, operation: str) -> bool:
        rule = self.rules.get(operation)
        return self.caller is not None and rule is not None and bool(rule.conditions)

    def _check_schema(self, body: dict) -> None:
        if not self.json_schema:
            return
        from jsonschema import Draft202012Validator

        errors = [e.message for e in Draft202012Validator(self.json_schema).iter_errors(body)]
        if errors:
            raise DocumentQueryError("Does not match the collection's schema: " + errors[0][:200])

    def scope(self) -> dict:
        scope = {"org_id": self.org_id, "project_id": self.project_id}
        if self.owner_scoped:
            scope["owner_id"] = self.user_id
        if self.caller is not None:
            rule_scope = self._rule_scope("select")
            if rule_scope is None:
                return {**scope, **CLOSED}
            scope.update(rule_scope)
        return scope

    def _scoped(self, query: dict | None = None) -> dict:
        if not query:
            return self.scope()
        # $and keeps the scope whole whatever the client filter says.
        return {"$and": [self.scope(), validate_filter(query)]}

    def _visible(self, cursor):
        """A cursor's documents the select rule's condition allows (all of them without one)."""
        if not self._conditional("select"):
            return cursor
        return (doc for doc in cursor if self._allows("select", doc))

    def find(self, query: dict | None, *, sort=None, limit: int = 20, skip: int = 0) -> list:
        self._require(VIEW_DATA)
        limit = min(limit, MAX_PAGE)
        cursor = self.collection.find(self._scoped(query)).sort(sort or parse_sort(None))
        if not self._conditional("select"):
            return [present(doc) for doc in cursor.skip(skip).limit(limit)]
        page = []
        for index, doc in enumerate(self._visible(cursor)):
            if index >= skip + limit:
                break
            if index >= skip:
                page.append(present(doc))
        return page

    def count(self, query: dict | None) -> int:
        self._require(VIEW_DATA)
        if not self._conditional("select"):
            return self.collection.count_documents(self._scoped(query))
        return sum(1 for _ in self._visible(self.collection.find(self._scoped(query))))

    def _find_visible(self, doc_id: str) -> dict | None:
        doc = self.collection.find_one({**self.scope(), "_id": doc_id})
        if doc is None or (self._conditional("select") and not self._allows("select", doc)):
            return None
        return doc

    def get(self, doc_id: str) -> dict | None:
        self._require(VIEW_DATA)
        doc = self._find_visible(doc_id)
        return present(doc) if doc else None

    def _check_rule(self, operation: str, doc: dict) -> None:
        """A client's write on a document it can see: 403 unless the rule allows it."""
        if self.caller is None:
            return
        if self._rule_scope(operation) is None or not self._allows(operation, doc):
            raise RuleRefused()

    def insert_many(self, bodies: list[dict]) -> list[dict]:
        self._require(WRITE_DATA)
        now = _now()
        for body in bodies:
            self._check_schema(validate_body(body))
        end_user_id = None
        if self.caller is not None and self.caller.end_user_id is not None:
            end_user_id = str(self.caller.end_user_id)
        docs = [
            {
                **validate_body(body),
                "_id": uuid.uuid4().hex,
                "org_id": self.org_id,
                "project_id": self.project_id,
                "owner_id": self.user_id,
                "end_user_id": end_user_id,
                "_v": 1,
                "_created": now,
                "_updated": now,
            }
            for body in bodies
        ]
        for doc in docs:
            self._check_rule("insert", doc)
        if docs:
            self.collection.insert_many(docs)
        return [present(doc) for doc in docs]

    def write(self, doc_id: str, body: dict, *, merge: bool, expected_version=None) -> dict | None:
        self._require(WRITE_DATA)
        if not isinstance(body, dict):
            raise DocumentQueryError("A document is a JSON object.")
        current = self._find_visible(doc_id)
        if current is None:
            return None
        self._check_rule("update", current)
        if expected_version is not None and current.get("_v") != expected_version:
            raise VersionMismatch(current.get("_v"))
        client_fields = present(current)["data"]
        new_fields = validate_body(merge_patch(client_fields, body) if merge else body)
        self._check_schema(new_fields)
        meta = {k: v for k, v in current.items() if k not in client_fields}
        replacement = {
            **new_fields,
            **meta,
            "_v": current.get("_v", 1) + 1,
            "_updated": _now(),
        }
        self._check_rule("update", replacement)  # the new version must pass it too
        result = self.collection.replace_one(
            {**self.scope(), "_id": doc_id, "_v": current.get("_v")}, replacement
        )
        if result.matched_count == 0:  # changed between read and write
            raise VersionMismatch(None)
        return present(replacement)

    def delete(self, doc_id: str, *, expected_version=None) -> bool:
        self._require(WRITE_DATA)
        query = {**self.scope(), "_id": doc_id}
        if self.caller is not None:
            current = self._find_visible(doc_id)
            if current is None:
                return False
            self._check_rule("delete", current)
        if expected_version is not None:
            if self.collection.find_one(query) is None:
                return False
            query["_v"] = expected_version
            if self.collection.delete_one(query).deleted_count == 0:
                raise VersionMismatch(None)
            return True
        return self.collection.delete_one(query).deleted_count == 1

    def aggregate(self, pipeline: Any) -> list:
        self._require(VIEW_DATA)
        if self.caller is not None:
            raise RuleRefused()  # a pipeline could read past a rule's condition
        if not isinstance(pipeline, list) or len(pipeline) > 20:
            raise DocumentQueryError("pipeline is a list of at most 20 stages.")
        _check_forbidden(pipeline)
        stages = [{"$match": self.scope()}]
        for stage in pipeline:
            if not isinstance(stage, dict) or len(stage) != 1:
                raise DocumentQueryError("Each stage is an object with one key.")
            ((name, arg),) = stage.items()
            if name not in PIPELINE_STAGES:
                raise DocumentQueryError(f"Stage {str(name)[:30]} is not allowed.")
            if name == "$match":
                validate_filter(arg)
            stages.append(stage)
        stages.append({"$limit": PIPELINE_RESULT_LIMIT})
        results = list(self.collection.aggregate(stages))
        return [
            {k: v for k, v in doc.items() if k not in RESERVED_FIELDS}
            if isinstance(doc, dict)
            else doc
            for doc in results
        ]

    # Indexes: always (org_id, project_id, ...client keys).
    def create_index(self, keys: Any, *, unique: bool = False) -> str:
        self._require(MANAGE_SCHEMA)
        cleaned = validate_index_keys(keys)
        name = self.collection.create_index(
            [("org_id", 1), ("project_id", 1), *cleaned], unique=bool(unique)
        )
        self._audit(AuditAction.INDEX_CREATE, name)
        return name

    def list_indexes(self) -> list[dict]:
        self._require(VIEW_DATA)
        out = []
        for name, info in self.collection.index_information().items():
            key = [(field, direction) for field, direction in info["key"]]
            if key[:2] == [("org_id", 1), ("project_id", 1)]:
                out.append(
                    {
                        "name": name,
                        "keys": [[f, d] for f, d in key[2:]],
                        "unique": bool(info.get("unique")),
                    }
                )
        return out

    def drop_index(self, name: str) -> bool:
        self._require(MANAGE_SCHEMA)
        if not any(index["name"] == name for index in self.list_indexes()):
            return False
        self.collection.drop_index(name)
        self._audit(AuditAction.INDEX_DROP, name)
        return True

    def _audit(self, action: str, index: str) -> None:
        """An index change is a schema write, audited on the collection (in PostgreSQL, in
        the request's transaction; MongoDB has already applied it)."""
        audit_org_write(
            membership=self.membership,
            action=action,
            target=self.collection_row,
            metadata={"index": index[:200]},
        )


def drop_collection(collection_id) -> None:
    """After a documents collection is deleted: its documents go with it."""
    try:
        get_database().drop_collection(physical_name(collection_id))
    except (DocumentStoreUnavailable, PyMongoError):
        pass


def sync_declared_indexes(collection_id, paths) -> None:
    """Indexes declared on a documents collection (its ``indexes`` field), org-prefixed too."""
    try:
        target = get_database()[physical_name(collection_id)]
        for path in paths:
            target.create_index([("org_id", 1), ("project_id", 1), (path, 1)])
    except (DocumentStoreUnavailable, PyMongoError):
        pass  # declared indexes are applied again on the collection's next update
