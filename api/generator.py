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


class ApiSchemaGenerator(SchemaGenerator):
    """The project's generator: DRF views, plus the health checks, which are plain Django views."""

    def get_schema(self, request=None, public=False):
        schema = super().get_schema(request=request, public=public)
        paths = {**schema.get("paths", {}), **HEALTH_PATHS}
        schema["paths"] = dict(sorted(paths.items()))
        return schema
