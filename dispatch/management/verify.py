"""What verify_events and verify_audit share: a chain checked against the signed checkpoints."""

from django.core.management.base import BaseCommand, CommandError

from dispatch.selectors.checkpoints import checkpoints_keyring, checkpoints_signed


class VerifyCommand(BaseCommand):
    """Check a hash chain against the signed checkpoints (file and table); exit 1 at the first broken link."""

    def add_arguments(self, parser):
        parser.add_argument(
            "--public-key", metavar="FILE",
            help="trust only the public keys in FILE (an auditor's copy), not the keyring beside the signing key",
        )

    def handle(self, *args, public_key=None, **options):
        checkpoints, broken = checkpoints_signed(keyring=checkpoints_keyring(public_key))
        checked = 0
        if broken is None:
            checked, broken = self.verify(checkpoints)
        if broken is not None:
            raise CommandError(f"BROKEN at {broken.where}: {broken.why}", returncode=1)
        self.stdout.write(self.ok(checked, checkpoints))

    def verify(self, checkpoints):
        """Return (links checked, the first broken one or None)."""
        raise NotImplementedError

    def ok(self, checked, checkpoints):
        """Return the line that says all is well."""
        raise NotImplementedError
