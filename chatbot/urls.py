"""Chat API, mounted at /api/chat/ (the original system's paths)."""

from __future__ import annotations

from django.urls import path

from chatbot import apis

urlpatterns = [
    path("process", apis.ChatProcessApi.as_view(), name="chat-process"),
    path("conversation/<str:phone>", apis.ChatConversationApi.as_view(), name="chat-conversation"),
    path("conversations/stats", apis.ChatStatsApi.as_view(), name="chat-stats"),
]
