"""The OpenAPI schema at /api/v1/schema, and a docs page made from it with no outside assets.

drf-spectacular's Swagger and Redoc pages load their scripts from a CDN, which an isolated
network cannot reach; the page here is plain HTML rendered on the server.
"""

from django.shortcuts import render
from drf_spectacular.views import SpectacularAPIView

from api.generator import ApiSchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")

class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema: YAML by default, JSON with ?format=json."""

    generator_class = ApiSchemaGenerator


def api_docs(request):
    """Render the schema's operations as one HTML page."""
    schema = ApiSchemaGenerator().get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})
    operations = [
        _operation(path, method, operation, components)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    return render(request, "api/api_docs.html", {"info": schema["info"], "operations": operations})


def _operation(path, method, operation, components):
    body = (operation.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
    return {
        "path": path,
        "method": method.upper(),
        "id": operation.get("operationId", ""),
        "description": operation.get("description", "") or operation.get("summary", ""),
        "parameters": operation.get("parameters", []),
        "body": _fields(body, components),
        "responses": sorted(operation.get("responses", {}).items()),
    }


def _fields(schema, components):
    """Return the (name, type, required, description) of a body schema's properties."""
    if not schema:
        return []
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    required = set(schema.get("required", []))
    return [
        (name, prop.get("type") or ("object" if "$ref" in prop else ""), name in required, prop.get("description", ""))
        for name, prop in schema.get("properties", {}).items()
    ]
