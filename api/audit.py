"""Keep the request being served for the security audit, so a record written without one (a token revoked
in the admin, an admin change) still says from where (dispatch/services/audit.py)."""

from dispatch.services.audit import audit_request, audit_request_end


class AuditRequestMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = audit_request(request)
        try:
            return self.get_response(request)
        finally:
            audit_request_end(token)
