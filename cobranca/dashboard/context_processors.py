"""Values every dashboard page's layout reads: the unread badge of "Conversas" in the navigation."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from conversations.selectors import unread_for_nav


def inbox_nav(request: HttpRequest) -> dict:
    """`inbox_unread`: the logged-in user's unread conversations (conversations.selectors.unread_for_nav).
    Lazy: the query runs only on a page whose template shows the badge (not the admin, not htmx partials)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"inbox_unread": SimpleLazyObject(lambda: unread_for_nav(user))}
