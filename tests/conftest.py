"""Shared test set-up: real PostGIS (the embedded cluster or DATABASE_URL), real Redis."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """Return the folder of real boundary and facility data (shared/data beside the repo)."""
    assert SHARED_DATA.is_dir(), f"shared data missing at {SHARED_DATA}"
    return SHARED_DATA
