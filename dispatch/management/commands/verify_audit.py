"""Check the security audit's hash chain from the first record to the last, against the signed checkpoints (v2)."""

from dispatch.management.verify import VerifyCommand
from dispatch.selectors.audit import audit_signed, verify_audit


class Command(VerifyCommand):
    help = (
        "Verify the security audit's hash chain against the signed checkpoints (file and table); "
        "exit with status 1 at the first broken link."
    )

    def verify(self, checkpoints):
        return verify_audit(checkpoints=checkpoints)

    def ok(self, checked, checkpoints):
        heads = audit_signed(checkpoints)
        signed = f"{len(heads)} signed checkpoints, the last at audit seq {max(heads)}" if heads else "no signed checkpoint yet"
        return f"OK: {checked} security records, chain intact; {signed}"
