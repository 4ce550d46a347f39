import pytest
from geo.models import SubCenterKind
@pytest.mark.django_db(transaction=True)
def test_kinds_survive():
    assert SubCenterKind.objects.count() == 6
