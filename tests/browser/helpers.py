"""Shared steps of the browser journeys: an operator, a logged-in page at a given width, console errors."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import Group, User

from cobranca.roles import OPERATORS

PASSWORD = "senha-do-operador-42"
TIMEOUT = 15_000
# Desktop and phone widths every journey runs at.
WIDTHS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


def make_operator(username: str = "operadora") -> User:
    user = User.objects.create_user(username, password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name=OPERATORS)[0])
    return user


@dataclass
class Session:
    page: object
    context: object
    errors: list[str] = field(default_factory=list)


# Every console error fails the journeys (the favicon is shipped: static/favicon.svg, /favicon.ico).
IGNORED_URLS: tuple[str, ...] = ()


def _console(session: Session, msg) -> None:
    if msg.type != "error":
        return
    url = (msg.location or {}).get("url", "")
    if url.endswith(IGNORED_URLS):
        return
    session.errors.append(f"{msg.text} ({url})" if url else msg.text)


def open_session(
    browser, base_url: str, width: str, *, username: str = "operadora", **context_args
) -> Session:
    """A new browser context at `width` ("desktop"/"phone"), logged in through the login form; every console
    error and every HTTP response ≥ 400 is collected in `errors`."""
    context = browser.new_context(
        locale="pt-BR",
        timezone_id="America/Sao_Paulo",
        accept_downloads=True,
        **WIDTHS[width],
        **context_args,
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    session = Session(page=page, context=context)
    page.on("console", lambda msg: _console(session, msg))
    page.on("pageerror", lambda exc: session.errors.append(f"pageerror: {exc}"))
    page.on("response", lambda r: session.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(base_url + "/accounts/login/?next=/painel/")
    page.get_by_label("Usuário").fill(username)
    page.get_by_label("Senha").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_url(base_url + "/painel/")
    return session
