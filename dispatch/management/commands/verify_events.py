"""Check the event log's hash chain from the first event to the last."""

from django.core.management.base import BaseCommand, CommandError

from dispatch.events import verify_chain


class Command(BaseCommand):
    help = "Verify the event log's hash chain; exit with status 1 at the first broken link."

    def handle(self, *args, **options):
        checked, broken, why = verify_chain()
        if broken is not None:
            raise CommandError(f"BROKEN at seq {broken.seq} ({broken.name}): {why}", returncode=1)
        self.stdout.write(f"OK: {checked} events, chain intact")
