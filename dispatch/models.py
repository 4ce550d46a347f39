"""Dispatch data: who operates where (incidents, plans and tickets come with the workflow)."""

from django.conf import settings
from django.db import models


class OperatorPost(models.Model):
    """Binds an operator to the one sub-center whose tickets they handle."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_post"
    )
    subcenter = models.ForeignKey("geo.SubCenter", on_delete=models.PROTECT, related_name="operators")

    def __str__(self):
        return f"{self.user} @ {self.subcenter.code}"
