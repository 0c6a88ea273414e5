"""Conversations API, mounted at /api/conversations/."""

from __future__ import annotations

from django.urls import path

from conversations import apis

urlpatterns = [
    path("", apis.ConversationListApi.as_view(), name="conversation-list"),
    path("<int:pk>", apis.ConversationDetailApi.as_view(), name="conversation-detail"),
    path("<int:pk>/take-over", apis.ConversationTakeOverApi.as_view(), name="conversation-take-over"),
    path("<int:pk>/give-back", apis.ConversationGiveBackApi.as_view(), name="conversation-give-back"),
    path("<int:pk>/reply", apis.ConversationReplyApi.as_view(), name="conversation-reply"),
    path(
        "messages/<int:pk>/correct-intent",
        apis.MessageCorrectIntentApi.as_view(),
        name="message-correct-intent",
    ),
]
