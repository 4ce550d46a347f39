"""How the connection pool comes back after PostgreSQL was away: steadily, not after minutes.

psycopg_pool retries a failed connection after 1 s, then doubles the wait (1, 2, 4, 8 … s, for up
to reconnect_timeout), and grows the pool by one attempt at a time. After a 10 s outage the next
try could be 8–16 s away, so requests answered 503 long after the server was back. Django builds
the pool itself and passes no backoff option through, so the class's delays are set here, once per
process, from DB_RECONNECT_S.
"""

from psycopg_pool.base import AttemptWithBackoff


def retry_connections_steadily(every_s: float) -> None:
    """Retry a failed pool connection every `every_s` seconds (±10 %) instead of ever more rarely."""
    AttemptWithBackoff.INITIAL_DELAY = every_s
    AttemptWithBackoff.DELAY_BACKOFF = 1.0
