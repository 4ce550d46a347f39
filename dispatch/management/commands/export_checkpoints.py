"""Write the signed checkpoints, or the public keys that check them, for an auditor."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dispatch import signing
from dispatch.selectors.checkpoints import checkpoints_keyring, checkpoints_signed

ERR_NO_KEY = "no public key: no signing key at {path} and no keyring beside it (./geodispatch run creates one)"


class Command(BaseCommand):
    help = "Write the signed checkpoints as JSON lines (or, with --public-key, the public keys as PEM)."

    def add_arguments(self, parser):
        parser.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
        parser.add_argument("--public-key", action="store_true", help="write the public keys, oldest first")

    def handle(self, *args, out=None, public_key=False, **options):
        keyring = checkpoints_keyring()
        text = _public_keys(keyring) if public_key else _checkpoints(keyring)
        if out:
            Path(out).write_text(text)
        else:
            self.stdout.write(text, ending="")


def _public_keys(keyring):
    if not keyring:
        raise CommandError(ERR_NO_KEY.format(path=settings.EVENT_SIGNING_KEY))
    return "".join(signing.public_pem(public) for public in keyring.values())


def _checkpoints(keyring):
    checkpoints, broken = checkpoints_signed(keyring=keyring)
    if broken is not None:  # an export must not launder a tampered record: name it and stop
        raise CommandError(f"BROKEN at {broken.where}: {broken.why} (./geodispatch manage verify_events)")
    return "".join(signing.checkpoint_line(checkpoints[seq]) for seq in sorted(checkpoints))
