"""Values every dashboard page's layout reads: the unread badge of "Conversas" in the navigation."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, new_method_proxy

from conversations.selectors import unread_for_nav


class _LazyCount(SimpleLazyObject):
    """A lazy int that templates can compare and pluralize: `pluralize` calls float(), which a plain
    SimpleLazyObject does not pass on (every count read as singular: "7 conversa não lida")."""

    __int__ = new_method_proxy(int)
    __float__ = new_method_proxy(float)
    __index__ = new_method_proxy(int)


def inbox_nav(request: HttpRequest) -> dict:
    """`inbox_unread`: the logged-in user's unread conversations (conversations.selectors.unread_for_nav).
    Lazy: the query runs only on a page whose template shows the badge (not the admin, not htmx partials)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"inbox_unread": _LazyCount(lambda: unread_for_nav(user))}
