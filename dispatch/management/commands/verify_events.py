"""Check the event log's hash chain from the first event to the last, against the signed checkpoints."""

from django.core.management.base import BaseCommand, CommandError

from dispatch.events import verify_chain
from dispatch.selectors.checkpoints import checkpoints_by_seq, checkpoints_keyring, checkpoints_signed


class Command(BaseCommand):
    help = (
        "Verify the event log's hash chain and its signed checkpoints (file and table); "
        "exit with status 1 at the first broken link."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--public-key", metavar="FILE",
            help="trust only the public keys in FILE (an auditor's copy), not the keyring beside the signing key",
        )

    def handle(self, *args, public_key=None, **options):
        checkpoints, broken = checkpoints_signed(keyring=checkpoints_keyring(public_key))
        checked = 0
        if broken is None:
            checked, broken = verify_chain(checkpoints=checkpoints_by_seq(checkpoints))
        if broken is not None:
            raise CommandError(f"BROKEN at {broken.where}: {broken.why}", returncode=1)
        self.stdout.write(f"OK: {checked} events, chain intact; {_signed_part(checkpoints)}")


def _signed_part(checkpoints):
    if not checkpoints:
        return "no signed checkpoint yet"
    return f"{len(checkpoints)} signed checkpoints, the last at seq {max(checkpoints)[0]}"
