"""The worker threads of a Daphne process: HTTP requests and stream database calls.

Each pool has a fixed number of threads, no more than the process's database pool holds
connections (DB_POOL_MAX), so no thread waits for a connection while holding a lock.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from asgiref.wsgi import WsgiToAsgi, WsgiToAsgiInstance
from channels.db import DatabaseSyncToAsync
from django.conf import settings

HTTP_THREADS = ThreadPoolExecutor(max_workers=settings.HTTP_THREADS, thread_name_prefix="http")
STREAM_THREADS = ThreadPoolExecutor(max_workers=settings.STREAM_THREADS, thread_name_prefix="stream")


class _Request(WsgiToAsgiInstance):
    # asgiref runs every WSGI request of a process on one shared thread; these run side by side.
    run_wsgi_app = SyncToAsync(
        WsgiToAsgiInstance.__dict__["run_wsgi_app"].func, thread_sensitive=False, executor=HTTP_THREADS
    )

    def build_environ(self, scope, body):
        """Say how long a chunked body is: asgiref has read it whole, but Django reads no more than CONTENT_LENGTH."""
        environ = super().build_environ(scope, body)
        if "CONTENT_LENGTH" not in environ:  # Transfer-Encoding: chunked (the API's size limit then applies as usual)
            environ["CONTENT_LENGTH"] = str(body.seek(0, 2))
            body.seek(0)
        return environ


class WsgiInThreads(WsgiToAsgi):
    """Serve a WSGI application over ASGI, each request wholly in one worker thread."""

    async def __call__(self, scope, receive, send):
        await _Request(self.wsgi_application, self.duplicate_header_limit)(scope, receive, send)


def on_stream_thread(fn):
    """Wrap fn to run on a stream thread, with a pooled connection given back afterwards.

    Channels' default would run every stream's database work of a process on one thread,
    one call after another: under load, frames wait seconds in that queue.
    """
    return DatabaseSyncToAsync(fn, thread_sensitive=False, executor=STREAM_THREADS)
