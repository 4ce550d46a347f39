"""The schema generator (its own module: settings name it, and the views import it)."""

from drf_spectacular.generators import SchemaGenerator

HEALTH_PATH = "/api/v1/health"
HEALTH_OPERATION = {
    "get": {
        "operationId": "health",
        "summary": "Report the state of the database and the channel layer.",
        "description": "200 when both answer, 503 when one is down. Needs no login.",
        "tags": ["health"],
        "security": [{}],
        "responses": {
            "200": {"description": "both are up", "content": {"application/json": {"schema": {"type": "object"}}}},
            "503": {"description": "one is down", "content": {"application/json": {"schema": {"type": "object"}}}},
        },
    }
}


class ApiSchemaGenerator(SchemaGenerator):
    """The project's generator: DRF views, plus the health check, which is a plain Django view."""

    def get_schema(self, request=None, public=False):
        schema = super().get_schema(request=request, public=public)
        paths = {**schema.get("paths", {}), HEALTH_PATH: HEALTH_OPERATION}
        schema["paths"] = dict(sorted(paths.items()))
        return schema
