"""API tokens (访问令牌): a secret shown once, kept only as its SHA-256 digest."""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def digest(secret):
    """Return the stored form of a token's secret (SHA-256, hex)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A credential for a machine client: a person's (expires) or a terminal's device token (until revoked)."""

    class Kind(models.TextChoices):
        PERSON = "person", "个人令牌 Person"
        DEVICE = "device", "终端令牌 Device"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(max_length=100, blank=True, help_text="what the device is, e.g. 'terminal 2, water desk'")
    subcenter = models.ForeignKey("geo.SubCenter", null=True, blank=True, on_delete=models.CASCADE)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False, help_text="the secret's first characters, to tell tokens apart")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(
                name="device_token_has_subcenter",
                condition=Q(kind="person", subcenter__isnull=True) | Q(kind="device", subcenter__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.prefix}… ({self.user})"

    def still_valid(self):
        """Tell, in one query, whether the token is unrevoked, unexpired, its user active and in place."""
        now = timezone.now()
        row = (
            ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True, user__is_active=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .values_list("user__operator_post__subcenter_id", flat=True)
        )
        return any(self.fits_post(subcenter_id) for subcenter_id in row)

    def fits_post(self, subcenter_id):
        """Tell whether a device token's sub-center is still its operator's (person tokens: always)."""
        return self.kind != self.Kind.DEVICE or self.subcenter_id == subcenter_id

