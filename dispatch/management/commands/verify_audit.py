"""Check the security audit's hash chain from the first record to the last, against the signed checkpoints (v2)."""

from django.core.management.base import BaseCommand, CommandError

from dispatch.selectors.audit import audit_signed, verify_audit
from dispatch.selectors.checkpoints import checkpoints_keyring, checkpoints_signed


class Command(BaseCommand):
    help = (
        "Verify the security audit's hash chain against the signed checkpoints (file and table); "
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
            checked, broken = verify_audit(checkpoints=checkpoints)
        if broken is not None:
            raise CommandError(f"BROKEN at {broken.where}: {broken.why}", returncode=1)
        heads = audit_signed(checkpoints)
        signed = f"{len(heads)} signed checkpoints, the last at audit seq {max(heads)}" if heads else "no signed checkpoint yet"
        self.stdout.write(f"OK: {checked} security records, chain intact; {signed}")
