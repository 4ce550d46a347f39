"""The schema generator (its own module: settings name it, and the views import it)."""

from drf_spectacular.generators import SchemaGenerator


def _json(description, schema):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


CHECK_STATE = {
    "type": "object", "required": ["ok", "latency_ms", "detail"],
    "properties": {
        "ok": {"type": "boolean"},
        "latency_ms": {"type": "number", "description": "how long the check took (the deadline when it gave up)"},
        "detail": {"description": "what was found, or the error", "oneOf": [{"type": "string"}, {"type": "object"}]},
    },
}
READY_PARTS = ("database", "channel_layer", "hub", "worker")
READY_STATE = {
    "type": "object", "required": ["ok", *READY_PARTS],
    "properties": {"ok": {"type": "boolean"}, **{part: CHECK_STATE for part in READY_PARTS}},
}
LIVE_STATE = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}

HEALTH_PATHS = {
    "/api/v1/health": {"get": {
        "operationId": "health",
        "summary": "Say whether this process answers (liveness).",
        "description": "200 whenever the process serves requests; it calls neither the database nor Redis, "
                       "so an outage elsewhere never takes a live node out. Needs no login.",
        "tags": ["health"], "security": [{}],
        "responses": {"200": _json("this process answers", LIVE_STATE)},
    }},
    "/api/v1/health/ready": {"get": {
        "operationId": "health_ready",
        "summary": "Check the database, the channel layer, this process's hub and the deadline workers (readiness).",
        "description": "Each part has `ok`, `latency_ms` and `detail`. 200 when all are ok, 503 otherwise; the "
                       "answer comes within 1 s whatever is down. Needs no login.",
        "tags": ["health"], "security": [{}],
        "responses": {"200": _json("every part is ok", READY_STATE), "503": _json("a part is not ok", READY_STATE)},
    }},
}


RETRY_AFTER = {
    "Retry-After": {"required": True, "description": "seconds to wait before trying again",
                    "schema": {"type": "integer", "minimum": 0}},
}
RETRY_CODES = ("429", "503")


class ApiSchemaGenerator(SchemaGenerator):
    """The project's generator: DRF views, plus the health checks, which are plain Django views."""

    def get_schema(self, request=None, public=False):
        schema = super().get_schema(request=request, public=public)
        for operation in _operations(schema):
            _say_blank_queries_are_omitted(operation)
            _say_retry_after(operation)
        paths = {**schema.get("paths", {}), **HEALTH_PATHS}
        schema["paths"] = dict(sorted(paths.items()))
        return schema


def _operations(schema):
    return [op for item in schema.get("paths", {}).values() for op in item.values() if isinstance(op, dict)]


def _say_blank_queries_are_omitted(operation):
    """Mark optional query parameters `allowEmptyValue`: DRF reads `?name=` as not given.

    A parameter with a pattern (bbox, the comma lists) lets the pattern decide about the empty string.
    """
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and not parameter.get("required") and "pattern" not in parameter["schema"]:
            parameter["allowEmptyValue"] = True


def _say_retry_after(operation):
    """Document the Retry-After header that comes with every 429 and 503."""
    for code, response in operation.get("responses", {}).items():
        if code in RETRY_CODES:
            response["headers"] = {**response.get("headers", {}), **RETRY_AFTER}
