"""The floors of the house (docs/ARCHITECTURE.md): each folder imports only from the floors below it.

geo ← dispatch ← (api, realtime) ← frontend; config only wires them together. Read from the
source with ast, so a lazy import inside a function counts as much as one at the top.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BELOW = {
    "geo": set(),
    "dispatch": {"geo"},
    "api": {"geo", "dispatch"},
    "realtime": {"geo", "dispatch"},
    "frontend": {"geo", "dispatch", "api", "realtime"},
}
FLOORS = set(BELOW) | {"config"}


def imported_floors(path):
    """Return the project folders a Python file imports from."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & FLOORS
    return found


@pytest.mark.parametrize("floor", sorted(BELOW))
def test_a_floor_imports_only_from_the_floors_below_it(floor):
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_floors(path) - BELOW[floor] - {floor})
        for path in (ROOT / floor).rglob("*.py")
    }
    assert {path: floors for path, floors in wrong.items() if floors} == {}


def test_the_check_sees_an_import_that_breaks_the_rule(tmp_path):
    upward = tmp_path / "upward.py"
    upward.write_text("def f():\n    from dispatch.models import Incident\n    import realtime.hub\n")
    assert imported_floors(upward) == {"dispatch", "realtime"}
