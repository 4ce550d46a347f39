"""The security audit in the admin: read by administrators, never added, changed or deleted there."""

from django.contrib import admin

from dispatch.models import SecurityRecord


@admin.register(SecurityRecord)
class SecurityRecordAdmin(admin.ModelAdmin):
    list_display = ("seq", "at", "kind", "outcome", "username", "address")
    list_filter = ("kind", "outcome")
    search_fields = ("username", "address", "kind")
    date_hierarchy = "at"
    ordering = ("-seq",)
    readonly_fields = ("seq", "at", "kind", "outcome", "username", "user_id", "address", "detail",
                       "body_hash", "prev_hash", "hash")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # viewing only (the view permission): the table refuses changes anyway

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        return {}  # no "delete selected"
