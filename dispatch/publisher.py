"""Ring the doorbell after commit: tell the channel layer which events are new.

The event log is the mailbox; the channel layer only says "look". A lost doorbell costs
latency, never an event: consumers read from the log by seq. dispatch never imports realtime.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from dispatch.representations import event_data

log = logging.getLogger(__name__)

GROUP_ALL = "events.all"
MESSAGE_TYPE = "events.new"


def subcenter_group(subcenter_id):
    return f"events.subcenter.{subcenter_id}"


def publish_on_commit(events):
    """After the current transaction commits, send the events to every group that sees them."""
    if events:
        transaction.on_commit(lambda: publish(events))


def publish(events):
    layer = get_channel_layer()
    if layer is None:
        return
    wire = [event_data(event) for event in events]
    messages = {GROUP_ALL: {"type": MESSAGE_TYPE, "events": wire}}
    for event, data in zip(events, wire):
        for subcenter_id in event.audience:
            group = subcenter_group(subcenter_id)
            if group not in messages:  # the audience's event just before this transaction's first
                messages[group] = {"type": MESSAGE_TYPE, "events": [], "prev": event.audience_prev[subcenter_id]}
            messages[group]["events"].append(data)
    try:
        async_to_sync(_send)(layer, messages)
    except Exception:  # the log already holds the events; consumers catch up from it
        log.exception("doorbell failed for events %s", [e.seq for e in events])


async def _send(layer, messages):
    for group, message in messages.items():
        await layer.group_send(group, message)
