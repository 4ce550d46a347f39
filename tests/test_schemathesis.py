"""Schemathesis against a live Daphne: the OpenAPI schema states what the server enforces (issue 12).

For each role (dispatcher, operator, leader, admin) a Daphne process serves the test database,
holding the sample city and a few incidents and tickets; Schemathesis reads /api/v1/schema from
it and sends every operation generated requests, valid (positive) and invalid (negative), with
the role's token. Each operation is one subtest, so a failure names the role and the operation.

Checks on every response:
- `not_a_server_error`: bad input is a 4xx, never a 5xx;
- `status_code_conformance`, `content_type_conformance`, `response_schema_conformance`,
  `response_headers_conformance`: the status is documented, and so are the body and headers;
- `negative_data_rejection`: a request the schema calls invalid is refused with a 4xx;
- `positive_data_acceptance`, except on the operations in BEYOND_THE_SCHEMA: there the server
  also checks what OpenAPI 3.0 cannot state — the input against stored data (a category,
  sub-center or layer that exists; a username and password that match) or one value against
  another (a bbox's corners in order, reported_after before reported_before, simplify or zoom) —
  so a well-formed request is rightly a 400 there; each entry says which rule.

Bounds: a few examples per operation and phase, no shrinking, a fixed seed (the same requests
on every run), and a per-request timeout rather than a Hypothesis deadline, which a busy machine
would trip without the server being at fault. The path ids are pinned to stored incidents and
tickets the role may see, so the lifecycle actions are reached instead of answering 404.
"""

import os
import subprocess

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.tokens import token_issue
from config.processes import daphne_command, free_port, stop_process, wait_listening
from dispatch import services
from tests.conftest import ROOT
from tests.test_live_stream import FENGQING, database_url_for_tests

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

ROLES = {"dispatcher": "dispatcher", "operator": "water_op", "leader": "leader", "admin": "admin"}
CHECKS = [
    not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
    response_headers_conformance, negative_data_rejection, positive_data_acceptance,
]
BEYOND_THE_SCHEMA = {
    "incidents_report": "the category exists",
    "incidents_assign": "the sub-center exists",
    "incidents_nearby": "the layer exists",
    "route_preview": "the category or kinds exist; category with severity, or kinds",
    "auth_token": "the username and password match",
    "incidents_list": "bbox corners in order; reported_after before reported_before",
    "jurisdictions_retrieve": "bbox corners in order; simplify or zoom, not both",
    "layers_features_retrieve": "bbox corners in order",
    "tiles_retrieve": "x and y below 2^z (a bound that depends on z)",
    "places_retrieve": "a q read as coordinates must be readable ones; near is lon,lat within range",
}
MAX_EXAMPLES = 4
REQUEST_TIMEOUT_S = 10
SEED = 12


@pytest.fixture(params=list(ROLES))
def role(request):
    return request.param


@pytest.fixture
def stored(cast):
    """Report two incidents in 凤庆县 (each with a water ticket) and return their ids."""
    reports = [
        services.incident_report(
            actor=cast.dispatcher, category="flood", severity=4, lon=FENGQING[0], lat=FENGQING[1], title=f"积水 {n}"
        )
        for n in range(2)
    ]
    return {"incident_id": reports[0].incident.id, "ticket_id": reports[0].tickets[0].id}


@pytest.fixture
def live_api(cast, stored, role, tmp_path):
    """Start Daphne on the test database; return its base URL and the role's token."""
    key = token_issue(user=getattr(cast, ROLES[role]))[1]
    env = dict(os.environ, DATABASE_URL=database_url_for_tests(), CHANNEL_LAYER_PREFIX=f"gdfuzz{os.getpid()}",
               PYTHONPATH=str(ROOT))
    port, log = free_port(), tmp_path / "daphne.log"
    process = subprocess.Popen(daphne_command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=open(log, "wb"))
    try:
        wait_listening(port, process, log)
        yield f"http://127.0.0.1:{port}", key
    finally:
        stop_process(process)


@pytest.fixture
def api_schema(live_api, stored):
    """Return the schema as the live server serves it, set up to call that server as the role."""
    base_url, key = live_api
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/schema?format=json")
    schema.config.update(
        base_url=base_url, headers={"Authorization": f"Token {key}"}, request_timeout=REQUEST_TIMEOUT_S,
        parameters={**stored, "name": "county_seats"},
    )
    schema.config.generation.update(
        max_examples=MAX_EXAMPLES, no_shrink=True, deterministic=True, with_security_parameters=False, database="none"
    )
    # Any 4xx is a refusal: a too-long field may be refused as a too-large body (413) first.
    schema.config.checks.negative_data_rejection.expected_statuses = ["4xx"]
    schema.config.seed = SEED
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_to_the_schema(case):
    operation = case.operation.definition.raw.get("operationId")
    excluded = [positive_data_acceptance] if operation in BEYOND_THE_SCHEMA else []
    case.call_and_validate(checks=CHECKS, excluded_checks=excluded)
