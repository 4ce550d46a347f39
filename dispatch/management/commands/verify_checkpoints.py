"""Check every signature of an exported checkpoints file with the public keys alone, without the database."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dispatch import signing


class Command(BaseCommand):
    help = "Check an exported checkpoints file with the public keys alone (no database); exit 1 at the first bad line."
    requires_system_checks = []  # an auditor's machine may have no database at all

    def add_arguments(self, parser):
        parser.add_argument("file", help="checkpoints, one JSON line each (export_checkpoints)")
        parser.add_argument("--public-key", metavar="KEYFILE", required=True, help="the public keys, PEM")

    def handle(self, *args, file, public_key, **options):
        keyring = signing.keyring_parse(Path(public_key).read_text())
        with open(file) as lines:
            points, bad, why = signing.file_read(lines, keyring)
        if bad is not None:
            raise CommandError(f"BROKEN at line {bad} of {file}: {why}", returncode=1)
        last = f", the last at seq {points[-1]['seq']}" if points else ""
        keys = f"{len(keyring)} public key(s)"
        self.stdout.write(f"OK: {len(points)} checkpoints{last}, every signature verified with {keys}")
