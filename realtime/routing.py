from django.urls import path

from realtime.consumers import StreamConsumer

websocket_urlpatterns = [path("ws/v1/stream", StreamConsumer.as_asgi())]
