"""Admin for API tokens (issue a device token, its secret shown once; list; revoke) and the users' second factors."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from api import tokens, two_factor
from api.models import ApiToken
from dispatch.errors import Invalid

MSG_SECRET = "Device token for {user} ({subcenter}): {secret} — copy it into the terminal now; it is not shown again."


class DeviceTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("user", "name")

    def clean_user(self):
        user = self.cleaned_data["user"]
        try:
            return tokens.device_owner(user.username)
        except Invalid as problem:
            raise forms.ValidationError(str(problem)) from None


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "kind", "user", "name", "subcenter", "created_at", "expires_at", "revoked_at")
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("user", "subcenter")
    search_fields = ("prefix", "user__username", "name", "subcenter__code")
    readonly_fields = ("prefix", "kind", "user", "name", "subcenter", "created_at", "expires_at", "revoked_at")
    actions = ["revoke"]
    form = DeviceTokenForm

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def has_change_permission(self, request, obj=None):
        return False  # a token is issued or revoked, never edited

    def save_model(self, request, obj, form, change):
        """Issue the device token through the service and show its secret this once."""
        token, secret = tokens.device_token_issue(username=obj.user.username, name=obj.name)
        obj.pk = token.pk
        messages.warning(request, MSG_SECRET.format(user=token.user, subcenter=token.subcenter, secret=secret))

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        count = sum(tokens.token_revoke(token_id=pk) for pk in queryset.values_list("pk", flat=True))
        messages.success(request, f"{count} token(s) revoked; they are refused everywhere within a second.")


# ---- people: the user admin, plus resetting a second factor (docs/OPERATIONS.md, "Two factors") ----

User = get_user_model()


class TwoFactorUserAdmin(UserAdmin):
    actions = ["reset_two_factor"]

    @admin.action(description="Reset two-factor login (they set it up again at their next login)")
    def reset_two_factor(self, request, queryset):
        for user in queryset:
            two_factor.second_factor_reset(user=user, by=request.user, request=request)
        messages.success(request, f"Two-factor login reset for {queryset.count()} user(s).")


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, TwoFactorUserAdmin)
