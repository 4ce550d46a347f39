from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = "Dispatch (处警)"

    def ready(self):
        from dispatch import security_signals

        security_signals.connect()  # the security audit's receivers (docs/OPERATIONS.md, "Security audit")
