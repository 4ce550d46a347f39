"""Ring the doorbell after commit: tell the channel layer which events are new, with their seqs.

The event log is the mailbox; the channel layer only says "look". A lost doorbell costs
latency, never an event: consumers read from the log by seq. dispatch never imports realtime.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from dispatch.events import events_numbered
from dispatch.representations import event_data

log = logging.getLogger(__name__)

GROUP_ALL = "events.all"  # one member per stream process (its hub), not one per socket
MESSAGE_TYPE = "events.new"


def publish_on_commit(events):
    """After the current transaction commits, tell every stream process which events are new."""
    if events:
        transaction.on_commit(lambda: publish(events))


def publish(events):
    layer = get_channel_layer()
    if layer is None:
        return
    events = events_numbered(events)
    message = {
        "type": MESSAGE_TYPE,
        "events": [{"seq": e.seq, "audience": e.audience, "event": event_data(e)} for e in events],
    }
    try:
        async_to_sync(layer.group_send)(GROUP_ALL, message)
    except Exception:  # the log already holds the events; the streams catch up from it
        log.exception("doorbell failed for events %s", [e.seq for e in events])
