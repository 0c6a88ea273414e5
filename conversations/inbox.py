"""The team inbox's writes: who owns a conversation (assign, release), how far each user has read it, and the
canned replies operators keep."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from loguru import logger

from billing.templating import VARIABLES, template_validate
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError
from cobranca.roles import is_operator
from conversations.models import CannedReply, Conversation, ReadMarker

# The variables a canned reply may use besides the message templates' ones (billing.templating.VARIABLES).
CANNED_EXTRA_VARIABLES = ("pix",)
TITLE_MAX = 80


# --- assignment ---------------------------------------------------------------------------------------------


def _assignee_name(user_id: int | None) -> str:
    if user_id is None:
        return "ninguém"
    user = get_user_model().objects.filter(pk=user_id).only("username").first()
    return user.get_username() if user else "um usuário removido"


def conversation_assign(
    *, conversation: Conversation, to, expected_id: int | None, by, ip: str | None = None
) -> Conversation:
    """Give the conversation to operator `to` (None releases it), provided it is still with `expected_id`
    (the owner the person saw on the page).

    Race-safe: one conditional UPDATE on (pk, assigned_to = expected). Two operators who click "assumir" on
    the same unassigned conversation at once both send expected=None; the first UPDATE wins and the second
    matches no row and is refused (409) with the name of the new owner, instead of silently taking it over.
    Audited (`conversation.assign`, with the previous and the new owner's ids). Assigning the owner it
    already has changes nothing and is not audited."""
    to_id = getattr(to, "pk", None)
    if to is not None and not (to.is_active and is_operator(to)):
        raise ApplicationError("Só é possível atribuir a conversa a um operador ativo.", {"user": to_id})
    if to_id == expected_id:
        return conversation  # nothing asked to change
    with transaction.atomic():
        moved = Conversation.objects.filter(pk=conversation.pk, assigned_to_id=expected_id).update(
            assigned_to_id=to_id
        )
        if not moved:
            now_with = (
                Conversation.objects.filter(pk=conversation.pk)
                .values_list("assigned_to_id", flat=True)
                .first()
            )
            raise ApplicationError(
                f"A conversa mudou enquanto você olhava: agora está com {_assignee_name(now_with)}. "
                "Confira e tente de novo.",
                {"assigned_to": now_with, "expected": expected_id},
                status_code=409,
            )
        audit_record(
            action="conversation.assign",
            actor=by,
            target=conversation,
            details={"from_user": expected_id, "to_user": to_id},
            ip=ip,
        )
    conversation.refresh_from_db(fields=["assigned_to"])
    logger.bind(conversation_id=conversation.pk, user_id=getattr(by, "pk", None)).info(
        "conversation.assign from={} to={}", expected_id, to_id
    )
    return conversation


# --- read markers -------------------------------------------------------------------------------------------


_UNKNOWN = object()


def conversation_mark_read(
    *, conversation: Conversation, user, upto_message_id: int, current: int | object | None = _UNKNOWN
) -> bool:
    """Record that `user` has seen the conversation up to message `upto_message_id`. Forward only (a page
    opened earlier that polls late never moves the marker back). `current` is the marker the caller already
    read (None: there is none; `conversations.selectors.with_read_upto(..., default=None)`), which makes this
    one statement at most. Returns whether the marker moved."""
    if not upto_message_id or not getattr(user, "pk", None):
        return False
    if current is _UNKNOWN:
        current = (
            ReadMarker.objects.filter(conversation=conversation, user=user)
            .values_list("last_read_message_id", flat=True)
            .first()
        )
    if current is not None and current >= upto_message_id:
        return False
    now = timezone.now()
    if current is None:
        # Another tab may create it at the same moment: the first insert stands, this one is dropped, and the
        # next refresh of the page moves it forward (no exception, no savepoint).
        ReadMarker.objects.bulk_create(
            [
                ReadMarker(
                    conversation=conversation, user=user, last_read_message_id=upto_message_id, read_at=now
                )
            ],
            ignore_conflicts=True,
        )
        return True
    return bool(
        ReadMarker.objects.filter(
            conversation=conversation, user=user, last_read_message_id__lt=upto_message_id
        ).update(last_read_message_id=upto_message_id, read_at=now)
    )


# --- canned replies -----------------------------------------------------------------------------------------


def canned_variables() -> list[tuple[str, str]]:
    """(name, what it holds) of every variable a canned reply may use, for the editor's help."""
    pix = ("pix", "Código PIX copia e cola da cobrança escolhida")
    # A chat answers about one charge; {pix} is a template variable too, listed once with this label.
    skip = {"charges_list", "charges_total", "pix"}
    return [*((name, label) for name, label in VARIABLES.items() if name not in skip), pix]


def canned_reply_errors(
    *, title: str, body: str, instance: CannedReply | None = None
) -> dict[str, list[str]]:
    """The problems of a canned reply per field (pt-BR); empty when it can be saved."""
    fields: dict[str, list[str]] = {}
    if not title:
        fields["title"] = ["Dê um título à resposta."]
    elif len(title) > TITLE_MAX:
        fields["title"] = [f"O título pode ter até {TITLE_MAX} caracteres."]
    elif CannedReply.objects.filter(title__iexact=title).exclude(pk=getattr(instance, "pk", None)).exists():
        fields["title"] = [f"Já existe uma resposta pronta chamada {title!r}."]
    errors = template_validate(body, extra=CANNED_EXTRA_VARIABLES)
    if errors:
        fields["body"] = errors
    return fields


@transaction.atomic
def canned_reply_save(
    *, title: str, body: str, is_active: bool = True, by=None, instance: CannedReply | None = None
) -> CannedReply:
    """Create (or update `instance`) after checking the body like a message template: only the known
    variables, plus {pix}; a bad body is refused with the template editor's messages."""
    title, body = (title or "").strip(), (body or "").strip()
    fields = canned_reply_errors(title=title, body=body, instance=instance)
    if fields:
        raise ApplicationError("Resposta pronta inválida.", {"fields": fields})
    reply = instance or CannedReply(created_by=by if getattr(by, "pk", None) else None)
    reply.title, reply.body, reply.is_active = title, body, is_active
    reply.save()
    return reply
