#!/usr/bin/env python3
"""Generate connectors/ghl-contacts.yaml from GoHighLevel's official API documents.

Inputs (a checkout of GoHighLevel/highlevel-api-docs, default
../shared/reference/ghl/highlevel-api-docs relative to the repository root):
  apps/contacts.json            OpenAPI 3.0 "Contacts API" (refs into common/common-schemas.json)
  docs/oauth/Scopes.md          which scope delivers which webhook event
  docs/webhook events/*.md      webhook payload examples

Usage:
  python3 scripts/gen-ghl-connector.py            # rewrite connectors/ghl-contacts.yaml
  python3 scripts/gen-ghl-connector.py --check    # exit 1 when the file is not up to date
  python3 scripts/gen-ghl-connector.py --docs DIR --out FILE

Everything that is not read from the documents (operation names, rate limits, auth kinds,
fixes of evident mistakes in the documents) is in the tables below, so the output is
reproducible: edit the tables, not the generated YAML. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOCS = ROOT.parent / "shared" / "reference" / "ghl" / "highlevel-api-docs"
DEFAULT_OUT = ROOT / "connectors" / "ghl-contacts.yaml"
SOURCE_NAME = "GoHighLevel/highlevel-api-docs apps/contacts.json"

# --------------------------------------------------------------------------------------
# Hand-made tables
# --------------------------------------------------------------------------------------

# operationId -> operation name (snake_case verbs after the official SDK's method names),
# in the order they appear in the connector file.
NAMES: dict[str, str] = {
    # contacts
    "get-contact": "get_contact",
    "create-contact": "create_contact",
    "update-contact": "update_contact",
    "delete-contact": "delete_contact",
    "upsert-contact": "upsert_contact",
    "get-contacts": "get_contacts",
    "search-contacts-advanced": "search_contacts_advanced",
    "get-duplicate-contact": "get_duplicate_contact",
    "get-contacts-by-businessId": "get_contacts_by_business_id",
    # tasks
    "get-all-tasks": "list_tasks",
    "create-task": "create_task",
    "get-task": "get_task",
    "update-task": "update_task",
    "delete-task": "delete_task",
    "update-task-completed": "update_task_completed",
    # appointments
    "get-appointments-for-contact": "get_appointments_for_contact",
    # tags
    "add-tags": "add_tags",
    "remove-tags": "remove_tags",
    # notes
    "get-all-notes": "list_notes",
    "create-note": "create_note",
    "get-note": "get_note",
    "update-note": "update_note",
    "delete-note": "delete_note",
    # followers
    "add-followers-contact": "add_followers",
    "remove-followers-contact": "remove_followers",
    # campaigns
    "add-contact-to-campaign": "add_to_campaign",
    "remove-contact-from-campaign": "remove_from_campaign",
    "remove-contact-from-every-campaign": "remove_from_all_campaigns",
    # workflows
    "add-contact-to-workflow": "add_to_workflow",
    "delete-contact-from-workflow": "remove_from_workflow",
    # bulk
    "create-association": "bulk_update_tags",
    "add-remove-contact-from-business": "bulk_update_business",
}

# Per operation: settings the document does not carry. Keys:
#   description   replaces the summary
#   writes        explicit (default: method != GET)
#   idempotent    explicit (default: the model's rule, GET/PUT/DELETE)
#   params        extra or replaced parameters (merged over the generated ones)
#   pagination    the pagination block
#   response_extra_properties  properties added to the top level of the answer schema
#   reconcile     how a resumed run checks whether a create with an unknown outcome happened
OVERRIDES: dict[str, dict] = {
    "get-contacts": {
        "description": "Get contacts of a location, 20 by default, up to 100 a page "
        "(deprecated: use search_contacts_advanced).",
        "params": {
            "startAfterId": {"description": "Cursor: id of the last contact of the previous page."},
            "startAfter": {
                "description": "Cursor: epoch milliseconds of the last contact of the previous page "
                "(the document says \"Start Afte\")."
            },
        },
        "pagination": {
            "kind": "cursor",
            "items": "$.contacts",
            "limit_param": "limit",
            "cursor": {"startAfterId": "$.meta.startAfterId", "startAfter": "$.meta.startAfter"},
        },
        # ContactsMetaSchema is defined in contacts.json but referenced by no operation;
        # GHL's answers carry it as `meta` (the cursor of the next page). UNCONFIRMED.
        "response_extra_properties": {
            "meta": {
                "$ref": "#/components/schemas/ContactsMetaSchema",
                "description": "Paging information (ContactsMetaSchema; defined but not "
                "referenced by the official document).",
            }
        },
    },
    "get-contacts-by-businessId": {
        "description": "Get the contacts of a business.",
        # The document types limit and skip as strings (defaults "25" and "0"); they are
        # counts, and the pager adds to skip, so they are integers here.
        "params": {
            "limit": {"type": "integer", "default": 25, "description": "Contacts per page."},
            "skip": {"type": "integer", "default": 0, "description": "How many contacts to skip."},
            "businessId": {"description": "Business id."},
            "locationId": {"description": "Location id."},
            "query": {"description": "Search text (e.g. a contact name)."},
        },
        "pagination": {
            "kind": "offset",
            "items": "$.contacts",
            "limit_param": "limit",
            "offset_param": "skip",
        },
    },
    "search-contacts-advanced": {
        "description": "Search contacts with advanced filters (the official request schema is empty).",
        # A search is a read: allowed on read-only connections, safe to retry.
        "writes": False,
        "idempotent": True,
        # Page numbers from 1, `pageLimit` contacts a page; the answer's `total` counts them all.
        "pagination": {
            "kind": "page",
            "items": "$.contacts",
            "limit_param": "pageLimit",
            "page_param": "page",
            "total": "$.total",
        },
        # The official SearchBodyV2DTO is empty. These fields come from GHL issue
        # GoHighLevel/highlevel-api-docs#31 and a white-label copy of the docs; they are
        # optional here so that the catalog still matches the official document.
        "params": {
            "locationId": {
                "in": "body",
                "type": "string",
                "description": "Location id. Needed in practice (422 without it); not in the "
                "official schema.",
            },
            "pageLimit": {
                "in": "body",
                "type": "integer",
                "description": "Contacts per page, at most 500. Needed in practice; not in the "
                "official schema.",
            },
            "page": {"in": "body", "type": "integer", "description": "Page number (UNCONFIRMED)."},
            "searchAfter": {
                "in": "body",
                "type": "array",
                "description": "Cursor for results beyond 10,000 (UNCONFIRMED).",
            },
            "query": {
                "in": "body",
                "type": "string",
                "description": "Free-text query, at most 75 characters (UNCONFIRMED).",
            },
            "filters": {
                "in": "body",
                "type": "array",
                "description": "Filters `{field, operator, value}` or groups `{group: AND|OR, "
                "filters}` (UNCONFIRMED).",
            },
            "sort": {
                "in": "body",
                "type": "array",
                "description": "Sort keys `{field, direction}` (UNCONFIRMED).",
            },
        },
    },
    "get-duplicate-contact": {
        "description": "Find the existing contact with this email or phone number (duplicate check).",
    },
    "get-all-tasks": {"description": "Get all tasks of a contact."},
    # A create is not idempotent and GHL documents no idempotency key: after a crash between
    # sending and recording the answer, a resumed run looks for the created item instead.
    "create-task": {
        "reconcile": {"operation": "list_tasks", "items": "tasks", "match": ["title", "dueDate"], "wrap": "task"},
    },
    "create-note": {
        "reconcile": {"operation": "list_notes", "items": "notes", "match": ["body"], "wrap": "note"},
    },
    "get-all-notes": {"description": "Get all notes of a contact."},
    "get-appointments-for-contact": {"description": "Get the appointments of a contact."},
    "update-task-completed": {"description": "Mark a task completed or not completed."},
    "add-tags": {"idempotent": True},
    "add-followers-contact": {"idempotent": True},
    "remove-contact-from-every-campaign": {"description": "Remove a contact from every campaign."},
    "create-association": {
        "description": "Add or remove tags of many contacts at once.",
        "idempotent": True,
        "params": {
            "type": {
                "in": "path",
                "type": "string",
                "required": True,
                "description": "`add` or `remove` (the official document does not declare "
                "this path parameter; values UNCONFIRMED).",
            }
        },
    },
    "add-remove-contact-from-business": {
        "description": "Add contacts to a business, or remove them from it (businessId null).",
        "idempotent": True,
    },
}

# Body fields whose declared type contradicts the document's own description and example.
TYPE_FIXES: dict[str, str] = {
    # Declared `type: object`, described as "Supported formats: YYYY/MM/DD, ..." with
    # example "1990-09-25".
    "dateOfBirth": "string",
}

# Webhook events, in file order: contacts, notes, tasks, appointments.
WEBHOOKS = [
    "ContactCreate",
    "ContactDelete",
    "ContactDndUpdate",
    "ContactTagUpdate",
    "ContactUpdate",
    "NoteCreate",
    "NoteDelete",
    "NoteUpdate",
    "TaskCreate",
    "TaskDelete",
    "TaskComplete",
    "AppointmentCreate",
    "AppointmentUpdate",
    "AppointmentDelete",
]

HEAD = {
    "name": "ghl-contacts",
    "description": "GoHighLevel (HighLevel / LeadConnector) Contacts API v2: contacts, tasks, "
    "notes, tags, appointments, followers, campaigns and workflows of a sub-account (location).",
    "base_url": "https://services.leadconnectorhq.com",
    "headers": {"Version": "2021-07-28"},
    "auth": [
        {
            "kind": "bearer",
            "description": "A Private Integration token of the sub-account, or a location "
            "(sub-account) access token, sent as `Authorization: Bearer TOKEN`.",
        },
        {
            "kind": "oauth2",
            "token_url": "/oauth/token",
            "description": "OAuth 2.0 (authorization code) of a Marketplace app with user type "
            "Location; access tokens last a day, and every refresh returns a new refresh token "
            "that must be stored before it is used.",
        },
    ],
    "rate_limits": [
        {"name": "burst", "requests": 100, "per": "10s", "scope": ["credential", "location"]},
        {
            "name": "daily",
            "requests": 200000,
            "per": "1d",
            "scope": ["credential", "location"],
            "quota": True,
        },
    ],
}

SCOPE_DESCRIPTIONS = {
    "contacts.readonly": "Read contacts, their tasks, notes and appointments; receive contact, "
    "note and task webhook events.",
    "contacts.write": "Create, update and delete contacts, tasks, notes, tags, followers, and "
    "campaign and workflow enrolments.",
}

COMMENTS = {
    "auth": [
        "Both kinds send `Authorization: Bearer TOKEN` (security scheme `bearer` of contacts.json).",
    ],
    "rate_limits": [
        "docs/oauth/Authorization.md (FAQ): 100 requests per 10 seconds and 200,000 requests per",
        "day, per app and per resource (location or company). Answers carry X-RateLimit-* headers.",
    ],
    "scopes": ["Scopes of contacts.json `security`; the bulk operations declare none."],
    "webhooks": [
        "docs/webhook events/*.md: payload schemas derived from each page's example payload (types",
        "widened where the page's own schema says so). Scopes from docs/oauth/Scopes.md; events",
        "missing from its table have no scope here.",
    ],
    "operations": [
        "One entry per operation of contacts.json, in groups. `params` excludes the Version and",
        "Authorization headers (they come from `headers` and `auth`).",
    ],
}

# --------------------------------------------------------------------------------------
# OpenAPI reading
# --------------------------------------------------------------------------------------


class Docs:
    """Loads JSON documents and resolves `$ref`s across files."""

    def __init__(self) -> None:
        self.files: dict[Path, dict] = {}

    def load(self, path: Path) -> dict:
        path = path.resolve()
        if path not in self.files:
            self.files[path] = json.loads(path.read_text(encoding="utf-8"))
        return self.files[path]

    def resolve(self, ref: str, base: Path) -> tuple[dict, Path]:
        file_part, _, pointer = ref.partition("#")
        target = (base.parent / file_part).resolve() if file_part else base
        node = self.load(target)
        for part in [p for p in pointer.split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[part]
        return node, target


def one_line(text: str | None) -> str | None:
    if text is None:
        return None
    text = re.sub(r"<br\s*/?>", " ", text)
    text = re.sub(r"<a [^>]*>(.*?)</a>", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text or None


KEY_ORDER = ["type", "description", "format", "enum", "default", "example", "properties", "required",
             "items", "additionalProperties", "anyOf", "oneOf", "allOf"]


def convert(schema: dict, base: Path, docs: Docs, stack: tuple = (), examples: bool = False) -> dict:
    """OpenAPI schema -> JSON Schema with every `$ref` inlined (`nullable` becomes a `null`
    type); examples are dropped unless `examples`."""
    if "$ref" in schema:
        ref = schema["$ref"]
        key = (base, ref)
        if key in stack:
            return {"description": f"(recursive reference {ref})"}
        target, target_base = docs.resolve(ref, base)
        inner = convert(target, target_base, docs, stack + (key,), examples)
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        if siblings:
            merged = {**inner, **convert(siblings, base, docs, stack, examples)}
            inner = {k: merged[k] for k in KEY_ORDER if k in merged}
        return inner
    out: dict = {}
    kind = schema.get("type")
    if kind is not None:
        if schema.get("nullable") and kind != "null":
            kind = [kind, "null"] if isinstance(kind, str) else list(kind) + ["null"]
        out["type"] = kind
    desc = one_line(schema.get("description"))
    if desc:
        out["description"] = desc
    for key in ("format", "enum", "default") + (("example",) if examples else ()):
        if key in schema:
            out[key] = schema[key]
    if "properties" in schema:
        out["properties"] = {
            name: convert(prop, base, docs, stack, examples) for name, prop in schema["properties"].items()
        }
    if schema.get("required"):
        out["required"] = list(schema["required"])
    if "items" in schema:
        out["items"] = convert(schema["items"], base, docs, stack, examples)
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = convert(schema["additionalProperties"], base, docs, stack, examples)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            out[key] = [convert(s, base, docs, stack, examples) for s in schema[key]]
    return out


def keys_of(schema: dict) -> list[str]:
    """Field names of an object schema, or of every alternative of an anyOf/oneOf."""
    names: list[str] = []
    for alt in [schema] + schema.get("anyOf", []) + schema.get("oneOf", []):
        for name in alt.get("properties", {}):
            if name not in names:
                names.append(name)
    return names


def hint(schema: dict) -> str | None:
    """A one-line description of a body field the document leaves undescribed."""
    kind = param_type(schema)
    if kind == "object" and keys_of(schema):
        return "An object with " + ", ".join(f"`{k}`" for k in keys_of(schema)) + "."
    if kind == "array":
        items = schema.get("items", {})
        if keys_of(items):
            return "A list of `{" + ", ".join(keys_of(items)) + "}`."
        if param_type(items) in ("string", "number", "integer", "boolean"):
            return f"A list of {param_type(items)}s."
    example = schema.get("example")
    if isinstance(example, (str, int, float)) and not isinstance(example, bool) and str(example):
        return f"Example: `{example}`."
    return None


def param_type(schema: dict) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if kind in ("string", "number", "integer", "boolean", "array", "object"):
        return kind
    if kind is None and "properties" in schema:
        return "object"
    return "any"


def make_param(location: str, schema: dict, required: bool, description: str | None) -> dict:
    param: dict = {"in": location, "type": param_type(schema)}
    if required:
        param["required"] = True
    if description:
        param["description"] = description
    if "enum" in schema:
        param["enum"] = schema["enum"]
    if "default" in schema:
        param["default"] = schema["default"]
    return param


def scopes_of(op: dict) -> list[str]:
    scopes: list[str] = []
    for requirement in op.get("security") or []:
        for names in requirement.values():
            for name in names:
                if name not in scopes:
                    scopes.append(name)
    return scopes


def success_schema(op: dict) -> dict | None:
    for status in ("200", "201"):
        response = op.get("responses", {}).get(status)
        if response is None:
            continue
        content = response.get("content", {}).get("application/json")
        if content and "schema" in content:
            return content["schema"]
    return None


def snake(operation_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", re.sub(r"([a-z])([A-Z])", r"\1_\2", operation_id).lower()).strip("_")


def build_operation(path: str, method: str, op: dict, base: Path, docs: Docs, warnings: list) -> tuple[str, dict]:
    op_id = op["operationId"]
    name = NAMES.get(op_id)
    if name is None:
        name = snake(op_id)
        warnings.append(f"operation {op_id} has no name in NAMES; using `{name}`")
    extra = OVERRIDES.get(op_id, {})
    method = method.upper()
    out: dict = {
        "description": extra.get("description") or (one_line(op.get("summary")) or op_id).rstrip(".") + ".",
        "operation_id": op_id,
        "method": method,
        "path": path,
    }
    if op.get("deprecated"):
        out["deprecated"] = True
    out["scopes"] = scopes_of(op)
    out["writes"] = extra.get("writes", method != "GET")
    if "idempotent" in extra:
        out["idempotent"] = extra["idempotent"]
    if method == "GET":
        out["cacheable"] = True
    if "reconcile" in extra:
        out["reconcile"] = extra["reconcile"]

    params: dict = {}
    for p in op.get("parameters", []):
        if "$ref" in p:
            p, _ = docs.resolve(p["$ref"], base)
        if p.get("in") not in ("path", "query"):
            continue  # Version and Authorization come from the connector
        schema = convert(p.get("schema", {}), base, docs)
        params[p["name"]] = make_param(
            p["in"], schema, bool(p.get("required")) or p["in"] == "path", one_line(p.get("description"))
        )
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body is not None:
        body = convert(body, base, docs, examples=True)
        required = set(body.get("required", []))
        for field, schema in body.get("properties", {}).items():
            if field in params:
                raise SystemExit(f"{op_id}: body field `{field}` collides with a path/query parameter")
            if field in TYPE_FIXES:
                schema = {**schema, "type": TYPE_FIXES[field]}
            params[field] = make_param(
                "body", schema, field in required, schema.get("description") or hint(schema)
            )
    for placeholder in re.findall(r"\{([^}]+)\}", path):
        if placeholder not in params:
            warnings.append(f"{op_id}: path parameter `{placeholder}` is not declared")
            params[placeholder] = {"in": "path", "type": "string", "required": True}
    for field, param in extra.get("params", {}).items():
        params[field] = {**params.get(field, {}), **param}
    placeholders = re.findall(r"\{([^}]+)\}", path)
    rank = {"path": 0, "query": 1, "header": 2, "body": 3, "body_root": 3}
    params = dict(
        sorted(
            params.items(),
            key=lambda kv: (rank[kv[1]["in"]], placeholders.index(kv[0]) if kv[0] in placeholders else 0),
        )
    )
    if params:
        out["params"] = params
    if "pagination" in extra:
        out["pagination"] = extra["pagination"]
    schema = success_schema(op)
    if schema is not None:
        response = convert(schema, base, docs)
        for field, prop in extra.get("response_extra_properties", {}).items():
            response.setdefault("properties", {})[field] = convert(prop, base, docs)
        out["response"] = response
    else:
        warnings.append(f"{op_id}: no response schema")
    return name, out


# --------------------------------------------------------------------------------------
# Webhook pages
# --------------------------------------------------------------------------------------


def infer(value) -> dict:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if value is None:
        return {}
    if isinstance(value, list):
        out: dict = {"type": "array"}
        if value:
            out["items"] = infer(value[0])
        return out
    return {"type": "object", "properties": {k: infer(v) for k, v in value.items()}}


def widen(inferred: dict, documented: dict | None) -> dict:
    """The example's shape, with types the page's own schema states more widely."""
    if not documented:
        return inferred
    out = dict(inferred)
    if "type" in documented and documented["type"] != inferred.get("type"):
        if not (documented["type"] == "number" and inferred.get("type") == "integer"):
            out["type"] = documented["type"]
    if "properties" in inferred or "properties" in documented:
        props = {}
        doc_props = documented.get("properties", {})
        for k, v in inferred.get("properties", {}).items():
            props[k] = widen(v, doc_props.get(k))
        for k, v in doc_props.items():
            props.setdefault(k, v)
        out["properties"] = props
    if "items" in documented:
        out["items"] = widen(inferred.get("items", {}), documented["items"])
    return out


def parse_webhook(page: Path, event: str, warnings: list[str]) -> dict:
    text = page.read_text(encoding="utf-8")
    blocks = re.findall(r"```json( json_schema)?\n(.*?)```", text, re.S)
    documented = next((json.loads(b) for tag, b in blocks if tag), None)
    example = next((json.loads(b) for tag, b in blocks if not tag), None)
    if example is None:
        raise SystemExit(f"{page}: no example payload")
    if example.get("type") != event:
        # AppointmentUpdate.md and AppointmentDelete.md copy AppointmentCreate's example.
        warnings.append(f"{page.name}: example `type` is {example.get('type')!r}, expected {event!r}")
    payload = widen(infer(example), documented)
    payload["properties"]["type"] = {"type": "string", "enum": [event]}
    match = re.search(r"^# .*\n+(.+)$", text, re.M)
    description = one_line(match.group(1)) if match else None
    out: dict = {}
    if description:
        out["description"] = description.rstrip(".") + "."
    out["payload"] = payload
    return out


def webhook_scopes(scopes_md: Path) -> dict[str, str]:
    """Event -> scope, from the table in Scopes.md (a blank scope cell continues the last one)."""
    result: dict[str, str] = {}
    current = None
    for line in scopes_md.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] == "Scope" or cells[0].startswith("---"):
            continue
        if cells[0] and cells[0] != "&nbsp;":
            current = cells[0]
        event = cells[2]
        if current and event and event != "&nbsp;":
            result.setdefault(event, current)
    return result


# --------------------------------------------------------------------------------------
# YAML writing (a small emitter: block style, short leaves in flow style)
# --------------------------------------------------------------------------------------

WIDTH = 100
RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}
PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.$/-]*$")
PLAIN_TEXT = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .'/()-]*[A-Za-z0-9_.)]$|^[A-Za-z_]$")


def scalar(value, flow: bool = False) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if (
        text.lower() not in RESERVED
        and (PLAIN_KEY.match(text) or (PLAIN_TEXT.match(text) and "  " not in text))
        and not (flow and re.search(r"[,\[\]{}]", text))
    ):
        return text
    return json.dumps(text, ensure_ascii=False)


def is_scalar(value) -> bool:
    return not isinstance(value, (dict, list))


def flow(value) -> str:
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{scalar(k, True)}: {flow(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value, True)


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def emit(value, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{scalar(key)}:"
            if is_scalar(item) or not item:
                lines.append(f"{head} {flow(item)}")
                continue
            short = flow(item)
            if depth(item) <= 2 and len(head) + 1 + len(short) <= WIDTH:
                lines.append(f"{head} {short}")
            else:
                lines.append(head)
                emit(item, indent + 2, lines)
    elif isinstance(value, list):
        for item in value:
            if is_scalar(item) or not item:
                lines.append(f"{pad}- {flow(item)}")
            elif isinstance(item, dict):
                sub: list[str] = []
                emit(item, indent + 2, sub)
                sub[0] = f"{pad}- {sub[0][indent + 2:]}"
                lines.extend(sub)
            else:
                lines.append(f"{pad}- {flow(item)}")
    else:
        lines.append(f"{pad}{flow(value)}")


def section(key: str, value, lines: list[str]) -> None:
    comments = COMMENTS.get(key)
    if comments:
        lines.append("")
        lines.extend(f"# {c}" for c in comments)
    emit({key: value}, 0, lines)


# --------------------------------------------------------------------------------------


def generate(docs_dir: Path) -> tuple[str, list[str]]:
    docs = Docs()
    spec_path = (docs_dir / "apps" / "contacts.json").resolve()
    spec = docs.load(spec_path)
    warnings: list[str] = []

    ops: dict[str, dict] = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method.lower() not in ("get", "post", "put", "patch", "delete"):
                continue
            name, built = build_operation(path, method, op, spec_path, docs, warnings)
            if name in ops:
                raise SystemExit(f"two operations are named `{name}`")
            ops[name] = built
    order = {name: i for i, name in enumerate(NAMES.values())}
    ops = dict(sorted(ops.items(), key=lambda kv: order.get(kv[0], len(order))))
    for op_id, name in NAMES.items():
        if name not in ops:
            warnings.append(f"NAMES lists {op_id}, which the document does not have")

    used_scopes = []
    for op in ops.values():
        for s in op["scopes"]:
            if s not in used_scopes:
                used_scopes.append(s)
    scopes = {s: SCOPE_DESCRIPTIONS.get(s, s) for s in sorted(used_scopes)}

    event_scopes = webhook_scopes(docs_dir / "docs" / "oauth" / "Scopes.md")
    webhooks = {}
    for event in WEBHOOKS:
        hook = parse_webhook(docs_dir / "docs" / "webhook events" / f"{event}.md", event, warnings)
        if event in event_scopes:
            hook = {"description": hook.get("description"), "scope": event_scopes[event], "payload": hook["payload"]}
        webhooks[event] = hook

    lines = [
        "# yaml-language-server: $schema=../schemas/connector.schema.json",
        f"# GENERATED from {SOURCE_NAME} (OpenAPI 3.0, with",
        "# common/common-schemas.json), docs/oauth/Scopes.md and docs/webhook events/*.md, by",
        "# scripts/gen-ghl-connector.py. Do not edit by hand: change the tables in the script and run",
        "#   python3 scripts/gen-ghl-connector.py",
        "# (`--check` verifies that this file is up to date). Facts not in the OpenAPI document",
        "# (rate limits, OAuth token rotation, search body fields) come from the GHL docs named",
        "# beside them; the catalog test checks the operations against contacts.json.",
    ]
    emit({k: HEAD[k] for k in ("name", "description", "base_url", "headers")}, 0, lines)
    section("auth", HEAD["auth"], lines)
    section("rate_limits", HEAD["rate_limits"], lines)
    section("scopes", scopes, lines)
    section("webhooks", webhooks, lines)
    lines.append("")
    lines.extend(f"# {c}" for c in COMMENTS["operations"])
    lines.append("operations:")
    for name, op in ops.items():
        lines.append("")
        emit({name: op}, 2, lines)
    return "\n".join(lines) + "\n", warnings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="highlevel-api-docs checkout")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="connector file to write")
    parser.add_argument("--check", action="store_true", help="only check that --out is up to date")
    args = parser.parse_args()
    text, warnings = generate(args.docs)
    for w in warnings:
        print(f"note: {w}", file=sys.stderr)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is not up to date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
