"""Check the event log's hash chain from the first event to the last, against the signed checkpoints."""

from dispatch.events import verify_chain
from dispatch.management.verify import VerifyCommand
from dispatch.selectors.checkpoints import checkpoints_by_seq


class Command(VerifyCommand):
    help = (
        "Verify the event log's hash chain and its signed checkpoints (file and table); "
        "exit with status 1 at the first broken link."
    )

    def verify(self, checkpoints):
        return verify_chain(checkpoints=checkpoints_by_seq(checkpoints))

    def ok(self, checked, checkpoints):
        if not checkpoints:
            return f"OK: {checked} events, chain intact; no signed checkpoint yet"
        return f"OK: {checked} events, chain intact; {len(checkpoints)} signed checkpoints, the last at seq {max(checkpoints)[0]}"
