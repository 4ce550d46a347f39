"""Dispatch data: categories, response plans, incidents, tickets, feedback, the event log."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db.models import Q

USER = settings.AUTH_USER_MODEL


class OperatorPost(models.Model):
    """Binds an operator to the one sub-center whose tickets they handle."""

    user = models.OneToOneField(USER, on_delete=models.CASCADE, related_name="operator_post")
    subcenter = models.ForeignKey("geo.SubCenter", on_delete=models.PROTECT, related_name="operators")

    def __str__(self):
        return f"{self.user} @ {self.subcenter.code}"


class Category(models.Model):
    """An incident type, under one of the four national classes."""

    class NationalClass(models.TextChoices):
        NATURAL_DISASTER = "natural_disaster", "自然灾害"
        ACCIDENT = "accident", "事故灾难"
        PUBLIC_HEALTH = "public_health", "公共卫生事件"
        SOCIAL_SECURITY = "social_security", "社会安全事件"

    code = models.SlugField(max_length=48, unique=True)
    name = models.CharField(max_length=64)
    name_en = models.CharField(max_length=64)
    national_class = models.CharField(max_length=20, choices=NationalClass.choices)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "categories"

    def __str__(self):
        return f"{self.name} ({self.code})"


class ResponsePlan(models.Model):
    """A 预案: for a category and a severity range, who is co-dispatched and how fast."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="plans")
    name = models.CharField(max_length=120)
    name_en = models.CharField(max_length=120, blank=True, help_text="The English screens show it (blank: the name).")
    severity_min = models.PositiveSmallIntegerField(default=1, help_text="1 = I 特别重大 (most severe)")
    severity_max = models.PositiveSmallIntegerField(default=4, help_text="4 = IV 一般")
    kinds = models.ManyToManyField("geo.SubCenterKind", related_name="plans")
    deliver_within_s = models.PositiveIntegerField(default=10)
    accept_within_s = models.PositiveIntegerField(default=60)
    confirm_within_s = models.PositiveIntegerField(default=60)
    feedback_within_s = models.PositiveIntegerField(default=1800)
    checklist = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["category", "severity_min"]
        constraints = [
            models.CheckConstraint(
                condition=Q(severity_min__gte=1, severity_max__lte=4, severity_min__lte=models.F("severity_max")),
                name="plan_severity_range",
            )
        ]

    def __str__(self):
        return self.name

    def deadlines(self):
        return {
            "deliver_s": self.deliver_within_s, "accept_s": self.accept_within_s,
            "confirm_s": self.confirm_within_s, "feedback_s": self.feedback_within_s,
        }


class IncidentStatus(models.TextChoices):
    TRIAGE = "triage", "待分派"
    DISPATCHED = "dispatched", "已派发"
    ACKNOWLEDGED = "acknowledged", "已确认"
    RESOLVED = "resolved", "已处置"
    CLOSED = "closed", "已结案"


class Incident(models.Model):
    """A reported emergency (事件). Its status is derived from its tickets."""

    class Source(models.TextChoices):
        CONSOLE = "console", "接警台"
        API = "api", "API client"

    location = models.PointField(srid=4326)
    address = models.CharField(max_length=300, blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT)
    severity = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    reporter_name = models.CharField(max_length=100, blank=True)
    reporter_phone = models.CharField(max_length=32, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField()
    reported_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    status = models.CharField(max_length=16, choices=IncidentStatus.choices, db_index=True)
    plan = models.ForeignKey(ResponsePlan, null=True, blank=True, on_delete=models.SET_NULL)
    routing = models.JSONField(default=list, help_text="The router's explanation for every kind of the plan.")
    unassigned_kinds = ArrayField(
        models.CharField(max_length=32), default=list, blank=True,
        help_text="Kinds the plan asks for that found no owner: the console must assign them by hand.",
    )
    place = models.JSONField(
        default=dict, blank=True,
        help_text="What is at the location when reported: nearest road, place and POI, county and township.",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    outcome = models.TextField(blank=True, help_text="How it ended, written when the incident is closed.")
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates",
        help_text="Set when it was merged into another incident: its calls moved there and it was closed.",
    )
    call_count = models.PositiveIntegerField(default=1, help_text="Calls about it, the first report included.")
    idempotency_key = models.CharField(
        max_length=128, null=True, blank=True, help_text="A client's retry key; unique per reporting user."
    )
    request_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-reported_at"]
        constraints = [
            models.CheckConstraint(condition=Q(severity__gte=1, severity__lte=4), name="incident_severity_1_4"),
            models.CheckConstraint(condition=Q(status__in=IncidentStatus.values), name="incident_status_valid"),
            models.UniqueConstraint(fields=["reported_by", "idempotency_key"], name="incident_idempotency_per_client"),
        ]
        # The search pages newest first by keyset (reported_at, id) over the whole history; earlier
        # incidents' addresses are found by the place search (pg_trgm, created by geo 0003).
        indexes = [
            models.Index(fields=["-reported_at", "-id"], name="incident_newest"),
            GinIndex(fields=["address"], name="incident_address_trgm", opclasses=["gin_trgm_ops"]),
        ]

    def __str__(self):
        return f"#{self.pk} {self.title}"


class TicketStatus(models.TextChoices):
    ISSUED = "issued", "已下发"
    DELIVERED = "delivered", "已送达"
    ACCEPTED = "accepted", "已接收"
    CONFIRMED = "confirmed", "已确认"
    RESOLVED = "resolved", "已处置"
    CLOSED = "closed", "已关闭"
    REJECTED = "rejected", "已退回"
    CANCELLED = "cancelled", "已撤销"


TERMINAL_STATUSES = (TicketStatus.CLOSED, TicketStatus.REJECTED, TicketStatus.CANCELLED)


class Ticket(models.Model):
    """One incident assigned to one sub-center (处警单)."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="tickets")
    subcenter = models.ForeignKey("geo.SubCenter", on_delete=models.PROTECT, related_name="tickets")
    status = models.CharField(max_length=16, choices=TicketStatus.choices, default=TicketStatus.ISSUED)
    routing = models.JSONField(default=dict, help_text="The router's explanation, or the manual assignment.")
    checklist = models.JSONField(default=list, blank=True)
    deadlines = models.JSONField(default=dict, help_text="Stage deadlines in seconds, from the plan.")
    reason = models.TextField(blank=True, help_text="The last reject, reopen or cancel reason.")
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    first_feedback_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField(null=True, blank=True, help_text="When the worker next looks at it.")
    overdue = models.BooleanField(default=False)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    checklist_done = models.JSONField(default=list, blank=True, help_text="Indexes of the checklist items ticked.")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["due_at"], name="ticket_due", condition=Q(due_at__isnull=False))]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=TicketStatus.values), name="ticket_status_valid"),
            models.UniqueConstraint(
                fields=["incident", "subcenter"], condition=~Q(status__in=["rejected", "cancelled"]),
                name="ticket_one_live_per_subcenter",
            ),
        ]

    def __str__(self):
        return f"ticket #{self.pk} ({self.status})"


class Call(models.Model):
    """One call about an incident (来电): the first report, or a later caller attached to it."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="calls")
    reporter_name = models.CharField(max_length=100, blank=True)
    reporter_phone = models.CharField(max_length=32, blank=True)
    note = models.TextField(blank=True)
    location = models.PointField(srid=4326, null=True, blank=True, help_text="Where the caller placed it.")
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    moved_from = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The duplicate incident it was first logged under, when merged.",
    )

    class Meta:
        ordering = ["received_at", "id"]


class Feedback(models.Model):
    """A progress or final report from the sub-center on its ticket (处警反馈)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="feedback")
    text = models.TextField()
    final = models.BooleanField(default=False)
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]


class EventHead(models.Model):
    """The one row that hands out sequence numbers and holds the chain's last hash.

    Only the commit-time trigger (dispatch.events) writes it, under its row lock, so sequence
    numbers follow commit order: a reader that has seen seq N never later finds a committed
    N-1 it missed.
    """

    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)


class Event(models.Model):
    """One immutable record of one state change; the log is the system's memory."""

    seq = models.BigIntegerField(unique=True, null=True, help_text="Given at commit, in commit order.")
    name = models.CharField(max_length=40)
    incident = models.ForeignKey(Incident, null=True, on_delete=models.DO_NOTHING, db_constraint=True, related_name="events")
    ticket = models.ForeignKey(Ticket, null=True, on_delete=models.DO_NOTHING, related_name="events")
    audience = ArrayField(models.BigIntegerField(), default=list, help_text="Sub-centers that see it.")
    actor = models.ForeignKey(USER, null=True, on_delete=models.DO_NOTHING, related_name="+")
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    body_hash = models.CharField(max_length=64, default="", help_text="SHA-256 of the content.")
    prev_hash = models.CharField(max_length=64, default="")
    hash = models.CharField(max_length=64, default="")

    class Meta:
        ordering = ["seq", "id"]  # an event of one's own open transaction has no seq yet
        indexes = [GinIndex(fields=["audience"], name="event_audience")]

    def __str__(self):
        return f"{self.seq} {self.name}"


class Checkpoint(models.Model):
    """A signed statement of the event log's head (签名检查点): its seq, hash and time, signed outside the database.

    Written by the deadline worker (dispatch/services/checkpoints.py) and copied to an append-only
    file; a trigger refuses UPDATE and DELETE (dispatch/sql/checkpoint_guard.sql). An owner who
    rewrites the log and re-hashes it cannot sign a matching checkpoint without the key.
    """

    seq = models.BigIntegerField(help_text="The last event the signature covers.")
    hash = models.CharField(max_length=64, help_text="The chain's hash at that event.")
    signed_at = models.DateTimeField()
    key_id = models.CharField(max_length=16, help_text="SHA-256 of the raw public key, first 16 hex digits.")
    signature = models.CharField(max_length=88, help_text="Ed25519, base64.")
    audit_seq = models.BigIntegerField(null=True, help_text="v2: the last security record the signature covers.")
    audit_hash = models.CharField(max_length=64, blank=True, default="", help_text="v2: the audit chain's hash there.")

    class Meta:
        ordering = ["seq", "audit_seq"]
        # One per event seq until v2; a v2 checkpoint may sign new security records alone (the same seq).
        constraints = [models.UniqueConstraint(fields=["seq", "audit_seq"], name="checkpoint_once_per_heads")]

    def __str__(self):
        return f"checkpoint at seq {self.seq}"


class SecurityRecord(models.Model):
    """One security audit record (安全审计记录): who, when, from where, what, with what outcome.

    Append-only and hash-chained like the event log: written by dispatch/services/audit.py with one
    INSERT; at commit a deferred trigger (dispatch/sql/audit_sequencer.sql) numbers it and chains
    hash = sha256("<prev_hash>:<seq>:<body_hash>"); a guard refuses every other UPDATE and DELETE.
    The signed checkpoints (v2) cover the chain's head.
    """

    seq = models.BigIntegerField(unique=True, null=True, help_text="Given at commit, in commit order.")
    at = models.DateTimeField()
    kind = models.CharField(max_length=32, help_text="What happened: login, login.failed, token.issued, …")
    outcome = models.CharField(max_length=16, help_text="success, failure, locked, refused, denied")
    username = models.CharField(max_length=150, blank=True, help_text="Who: the account, as typed for a failed login.")
    user_id = models.BigIntegerField(null=True, blank=True, help_text="Who: the account's id, when known.")
    address = models.CharField(max_length=64, blank=True, help_text="From where: the client's address; empty on the server.")
    detail = models.JSONField(default=dict, blank=True)
    body_hash = models.CharField(max_length=64, default="", help_text="SHA-256 of the content.")
    prev_hash = models.CharField(max_length=64, default="")
    hash = models.CharField(max_length=64, default="")

    class Meta:
        ordering = ["seq", "id"]
        indexes = [models.Index(fields=["at"], name="securityrecord_at")]

    def __str__(self):
        return f"{self.seq} {self.kind} {self.username} {self.outcome}"


class Terminal(models.Model):
    """One live stream connection of a sub-center operator: presence and terminal health."""

    channel_name = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    subcenter = models.ForeignKey("geo.SubCenter", on_delete=models.CASCADE, related_name="terminals")
    connected_at = models.DateTimeField()
    last_heartbeat_at = models.DateTimeField()
    audio_armed = models.BooleanField(default=False)
    page_visible = models.BooleanField(default=True)

    class Meta:
        indexes = [models.Index(fields=["subcenter", "last_heartbeat_at"], name="terminal_live")]


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "待发送"
    SENDING = "sending", "发送中"
    SENT = "sent", "已发送"
    FAILED = "failed", "发送失败"


class Notice(models.Model):
    """One escalation message to one phone (升级通知): the outbox row a worker sends.

    Written in the escalation's own transaction, so a crash after the commit loses nothing.
    A step is one rung of one stage's clock: `stage_started_at` is the instant that clock
    started (issued_at, delivered_at, accepted_at or confirmed_at), so a stage entered again
    (a reopen re-stamps confirmed_at) gets new notices, and the same rung never gets two.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="notices")
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="+")
    stage = models.CharField(max_length=16)
    stage_started_at = models.DateTimeField()
    level = models.PositiveSmallIntegerField()
    recipient = models.CharField(max_length=64, help_text='A phone number, or "leaders" when none is configured.')
    text = models.TextField()
    idempotency_key = models.CharField(max_length=64, unique=True, help_text="Sent with every attempt.")
    status = models.CharField(max_length=8, choices=NoticeStatus.choices, default=NoticeStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="Pending: when it is due. Sending: when the claim's lease runs out."
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="notice_due", condition=Q(next_attempt_at__isnull=False)),
            models.Index(fields=["status", "-created_at"], name="notice_status_newest"),  # the console's failed list
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "stage", "stage_started_at", "level", "recipient"], name="notice_once_per_step"
            ),
            models.CheckConstraint(condition=Q(status__in=NoticeStatus.values), name="notice_status_valid"),
            # Only unfinished notices are on the worker's clock.
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending"], next_attempt_at__isnull=False)
                | Q(status__in=["sent", "failed"], next_attempt_at__isnull=True),
                name="notice_due_while_unfinished",
            ),
        ]

    def __str__(self):
        return f"notice #{self.pk} to {self.recipient} ({self.status})"


class AttemptOutcome(models.TextChoices):
    SENDING = "sending", "发送中"
    SENT = "sent", "已发送"
    ERROR = "error", "失败，将重试"
    REFUSED = "refused", "被网关拒绝"
    LOST = "lost", "工作进程中断"


class NoticeAttempt(models.Model):
    """One try to send a notice: written when it is claimed, finished with the gateway's answer."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=AttemptOutcome.choices, default=AttemptOutcome.SENDING)
    detail = models.TextField(blank=True, help_text="The gateway's answer, or the error.")

    class Meta:
        ordering = ["notice", "number"]
        constraints = [
            models.UniqueConstraint(fields=["notice", "number"], name="notice_attempt_number"),
            models.CheckConstraint(condition=Q(outcome__in=AttemptOutcome.values), name="notice_attempt_outcome_valid"),
        ]
