"""ASGI entry point: HTTP through Django, the WebSocket stream through the realtime router."""

import gc
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

django_app = get_wsgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import StaticFilesHandler  # noqa: E402

from config.proxy import TrustedProxies  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402
from realtime.threads import WsgiInThreads  # noqa: E402

router = ProtocolTypeRouter(
    {
        # A request's middleware and view run in one worker thread, as under WSGI. Django's
        # ASGI handler hops between the event loop and a thread for each sync middleware:
        # about 16 hops per request, a third of the request's CPU time (docs/OPERATIONS.md).
        "http": WsgiInThreads(StaticFilesHandler(django_app)),
        # Origins are checked by the consumer, so a refusal comes with a close code and a reason.
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)
# The client's address comes from X-Forwarded-For only when the peer is a trusted proxy.
application = TrustedProxies(router, settings.TRUSTED_PROXIES)

# Thousands of long-lived sockets make generation-2 collections stall the process for
# hundreds of milliseconds (540–620 ms measured with 5,000 sockets; these settings brought p99
# from about 145 to 103 ms): freeze what start-up made, collect less often.
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 50, 100)

# Worker threads release the GIL at every database round trip, so a longer switch interval
# costs them little; a shorter one made the process spend its time handing the GIL around
# (bench/README.md: at 20 incidents/s, 0.5 ms took 1.8 cores and 20 ms 1.3 cores for the same work).
sys.setswitchinterval(0.02)
