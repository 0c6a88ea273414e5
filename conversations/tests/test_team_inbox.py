"""The team inbox's services: assignment (race-safe, audited), read markers and unread counts, canned replies
with variables, and the chat's quick actions through the existing services and the one outbound path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone

from audit.models import AuditLog
from billing.models import Charge, PromiseToPay
from billing.suppression import suppress_client
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.exceptions import ApplicationError
from cobranca.roles import INTEGRATORS, OPERATORS
from conversations import inbox, quick_actions, selectors
from conversations.models import CannedReply, Conversation, Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


class FakeWaha:
    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def send_text(self, chat_id, text, *, session=None, message_id=None):
        self.sent.append((chat_id, text))
        return f"true_{chat_id}_3EB0{len(self.sent):016d}"


@pytest.fixture
def waha(monkeypatch) -> FakeWaha:
    fake = FakeWaha()
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake)
    return fake


def _operator(name: str) -> User:
    user = User.objects.create_user(name, password="x")
    user.groups.add(Group.objects.get_or_create(name=OPERATORS)[0])
    return user


@pytest.fixture
def ana() -> User:
    return _operator("ana")


@pytest.fixture
def bia() -> User:
    return _operator("bia")


# --- assignment ---------------------------------------------------------------------------------------------


def test_assigning_to_myself_records_who_did_it_in_the_audit_log(ana):
    conversation = ConversationFactory()
    inbox.conversation_assign(conversation=conversation, to=ana, expected_id=None, by=ana, ip="10.0.0.1")
    conversation.refresh_from_db()
    assert conversation.assigned_to == ana
    entry = AuditLog.objects.get(action="conversation.assign")
    assert (entry.actor, entry.target_id, entry.details, entry.ip) == (
        ana,
        str(conversation.pk),
        {"from_user": None, "to_user": ana.pk},
        "10.0.0.1",
    )


def test_the_second_of_two_operators_taking_the_same_conversation_is_refused(ana, bia):
    conversation = ConversationFactory()
    # Both pages showed "sem responsável" (expected None); Bia's click lands first.
    inbox.conversation_assign(conversation=conversation, to=bia, expected_id=None, by=bia)
    with pytest.raises(ApplicationError) as exc:
        inbox.conversation_assign(conversation=conversation, to=ana, expected_id=None, by=ana)
    assert exc.value.status_code == 409
    assert "agora está com bia" in exc.value.message
    conversation.refresh_from_db()
    assert conversation.assigned_to == bia
    assert AuditLog.objects.filter(action="conversation.assign").count() == 1


def test_reassigning_and_releasing_need_the_owner_seen_on_the_page(ana, bia):
    conversation = ConversationFactory(assigned_to=ana)
    inbox.conversation_assign(conversation=conversation, to=bia, expected_id=ana.pk, by=ana)
    with pytest.raises(ApplicationError):
        inbox.conversation_assign(conversation=conversation, to=None, expected_id=ana.pk, by=ana)
    inbox.conversation_assign(conversation=conversation, to=None, expected_id=bia.pk, by=ana)
    conversation.refresh_from_db()
    assert conversation.assigned_to is None
    details = list(
        AuditLog.objects.filter(action="conversation.assign").order_by("pk").values_list("details", flat=True)
    )
    assert details == [{"from_user": ana.pk, "to_user": bia.pk}, {"from_user": bia.pk, "to_user": None}]


def test_a_conversation_cannot_be_given_to_an_integrator_or_an_inactive_user(ana):
    integrator = User.objects.create_user("api", password="x")
    integrator.groups.add(Group.objects.get_or_create(name=INTEGRATORS)[0])
    gone = _operator("gone")
    gone.is_active = False
    gone.save()
    conversation = ConversationFactory()
    for user in (integrator, gone):
        with pytest.raises(ApplicationError):
            inbox.conversation_assign(conversation=conversation, to=user, expected_id=None, by=ana)
    assert Conversation.objects.get(pk=conversation.pk).assigned_to is None


def test_a_reply_to_an_unassigned_conversation_makes_the_sender_its_owner_but_never_steals_one(
    ana, bia, waha
):
    free = ConversationFactory()
    quick_actions.operator_send(conversation=free, text="Oi", by=ana)
    taken = ConversationFactory(assigned_to=bia)
    quick_actions.operator_send(conversation=taken, text="Oi", by=ana)
    free.refresh_from_db()
    taken.refresh_from_db()
    assert (free.assigned_to, taken.assigned_to) == (ana, bia)


# --- read markers and unread counts -------------------------------------------------------------------------


def test_unread_counts_are_per_user_and_drop_when_the_conversation_is_opened(ana, bia):
    conversation = ConversationFactory(assigned_to=ana)
    first = MessageFactory(conversation=conversation)
    MessageFactory(conversation=conversation, direction="out", author="bot")
    MessageFactory(conversation=conversation)
    counted = {c.pk: c.unread_count for c in selectors.with_unread(Conversation.objects.all(), ana)}
    assert counted == {conversation.pk: 2}

    newest = conversation.messages.order_by("-pk").first().pk
    assert inbox.conversation_mark_read(conversation=conversation, user=ana, upto_message_id=newest)
    assert selectors.with_unread(Conversation.objects.all(), ana).get().unread_count == 0
    assert selectors.with_unread(Conversation.objects.all(), bia).get().unread_count == 2
    # A page opened earlier that polls late never moves the marker back.
    assert not inbox.conversation_mark_read(conversation=conversation, user=ana, upto_message_id=first.pk)
    assert selectors.with_unread(Conversation.objects.all(), ana).get().unread_count == 0

    MessageFactory(conversation=conversation, body="e agora?")
    assert selectors.with_unread(Conversation.objects.all(), ana).get().unread_count == 1
    assert selectors.unread_for_nav(ana) == 1


def test_the_views_count_conversations_and_unread_ones_in_one_query(ana, bia, django_assert_num_queries):
    mine = ConversationFactory(assigned_to=ana)
    MessageFactory(conversation=mine)
    ConversationFactory(assigned_to=bia)
    free = ConversationFactory()
    MessageFactory(conversation=free)
    with django_assert_num_queries(1):
        counts = selectors.inbox_counts(ana)
    assert counts == {
        "minhas": {"total": 1, "unread": 1},
        "sem-responsavel": {"total": 1, "unread": 1},
        "todas": {"total": 3, "unread": 2},
    }


def test_the_nav_badge_leaves_out_unassigned_conversations_the_bot_handles(ana):
    bot_handled = ConversationFactory()
    MessageFactory(conversation=bot_handled)
    waiting = ConversationFactory(needs_attention=True)
    MessageFactory(conversation=waiting)
    handed = ConversationFactory(state=Conversation.State.HUMAN)
    MessageFactory(conversation=handed)
    assert selectors.unread_for_nav(ana) == 2


# --- canned replies -----------------------------------------------------------------------------------------


def test_a_canned_reply_is_validated_like_a_template_plus_pix(ana):
    reply = inbox.canned_reply_save(title="PIX", body="Olá {nome}, segue o PIX: {pix}", by=ana)
    assert reply.created_by == ana
    with pytest.raises(ApplicationError) as exc:
        inbox.canned_reply_save(title="Ruim", body="Olá {nomee}", by=ana)
    assert "Você quis dizer {nome}?" in exc.value.extra["fields"]["body"][0]
    with pytest.raises(ApplicationError) as exc:
        inbox.canned_reply_save(title="pix", body="Outro", by=ana)
    assert "title" in exc.value.extra["fields"]


def test_a_canned_reply_renders_the_debtors_values_and_the_pix_of_the_chosen_charge(settings):
    settings.PIX_KEY = "financeiro@clinica.com.br"
    settings.CREDITOR_NAME = "Clinica Sorriso"
    settings.CREDITOR_CITY = "Sao Paulo"
    client = ClientFactory(name="Maria Souza")
    charge = ChargeFactory(client=client, amount=Decimal("99.90"), due_date=dt.date(2026, 12, 20))
    conversation = ConversationFactory(client=client)
    canned = CannedReply.objects.create(
        title="PIX", body="Olá {primeiro_nome}! {amount} até {due_date}. PIX: {pix}"
    )
    text = quick_actions.canned_reply_render(canned=canned, conversation=conversation, charge=charge)
    assert text.startswith("Olá Maria! R$ 99,90 até 20/12/2026. PIX: 000201")
    assert "financeiro@clinica.com.br" in text


def test_no_empty_variable_reaches_the_debtor(waha):
    unknown = ConversationFactory(client=None, chat_id="5511955554444@c.us")
    canned = CannedReply.objects.create(title="Oi", body="Olá {name}, tudo bem?")
    with pytest.raises(ApplicationError) as exc:
        quick_actions.conversation_send_canned_reply(
            conversation=unknown, canned=canned, charge=None, by=None
        )
    assert exc.value.extra["empty"] == ["name"]
    assert "o número não está cadastrado" in exc.value.message

    client = ClientFactory()
    charge = ChargeFactory(client=client, description="")
    known = ConversationFactory(client=client)
    described = CannedReply.objects.create(title="Desc", body="Sobre *{description}*")
    with pytest.raises(ApplicationError) as exc:
        quick_actions.canned_reply_render(canned=described, conversation=known, charge=charge)
    assert exc.value.extra["empty"] == ["description"]
    needs_charge = CannedReply.objects.create(title="Valor", body="Valor: {amount}")
    with pytest.raises(ApplicationError) as exc:
        quick_actions.canned_reply_render(canned=needs_charge, conversation=known, charge=None)
    assert "escolha uma cobrança" in exc.value.message
    fallback = CannedReply.objects.create(title="Fb", body='Sobre {description|"sua mensalidade"}')
    assert (
        quick_actions.canned_reply_render(canned=fallback, conversation=known, charge=charge)
        == "Sobre sua mensalidade"
    )
    assert waha.sent == []


# --- quick actions ------------------------------------------------------------------------------------------


def test_the_pix_quick_action_sends_the_bots_pix_answer_for_the_chosen_charge(ana, waha, settings):
    settings.PIX_KEY = "financeiro@clinica.com.br"
    client = ClientFactory(name="Maria Souza")
    ChargeFactory(client=client, amount=Decimal("50.00"), description="Consulta")
    chosen = ChargeFactory(client=client, amount=Decimal("120.00"), description="Mensalidade")
    conversation = ConversationFactory(client=client)
    message = quick_actions.conversation_send_pix(conversation=conversation, charge=chosen, by=ana)
    [(chat_id, text)] = waha.sent
    assert chat_id == conversation.chat_id
    assert "“Mensalidade” de R$ 120,00" in text and "PIX copia e cola (R$ 120,00)" in text
    assert (message.author, message.operator) == (Message.Author.OPERATOR, ana)


def test_the_pix_of_another_debtors_charge_or_a_paid_one_is_refused(ana, waha, settings):
    settings.PIX_KEY = "financeiro@clinica.com.br"
    conversation = ConversationFactory()
    other = ChargeFactory()
    with pytest.raises(ApplicationError) as exc:
        quick_actions.conversation_send_pix(conversation=conversation, charge=other, by=ana)
    assert exc.value.status_code == 404
    paid = ChargeFactory(client=conversation.client, status=Charge.Status.PAID)
    with pytest.raises(ApplicationError) as exc:
        quick_actions.conversation_send_pix(conversation=conversation, charge=paid, by=ana)
    assert "não está em aberto" in exc.value.message
    assert waha.sent == []


def test_without_a_pix_key_the_operator_is_told_instead_of_sending_a_broken_code(ana, waha, settings):
    settings.PIX_KEY = ""
    charge = ChargeFactory()
    conversation = ConversationFactory(client=charge.client)
    with pytest.raises(ApplicationError) as exc:
        quick_actions.conversation_send_pix(conversation=conversation, charge=charge, by=ana)
    assert "PIX não está configurado" in exc.value.message
    assert waha.sent == []


def test_an_opted_out_debtor_gets_nothing_from_the_inbox(ana, waha, settings):
    settings.PIX_KEY = "financeiro@clinica.com.br"
    charge = ChargeFactory()
    conversation = ConversationFactory(client=charge.client)
    suppress_client(client=charge.client, reason="opt_out")
    charge.client.refresh_from_db()
    conversation.refresh_from_db()
    canned = CannedReply.objects.create(title="Oi", body="Olá {name}")
    for send in (
        lambda: quick_actions.conversation_send_pix(conversation=conversation, charge=charge, by=ana),
        lambda: quick_actions.conversation_send_canned_reply(
            conversation=conversation, canned=canned, charge=None, by=ana
        ),
        lambda: quick_actions.operator_send(conversation=conversation, text="Oi", by=ana),
    ):
        with pytest.raises(ApplicationError) as exc:
            send()
        assert exc.value.status_code == 409
    assert waha.sent == []
    assert not Message.objects.filter(conversation=conversation).exists()


def test_a_number_on_the_suppression_list_without_a_client_is_refused_too(ana, waha):
    from billing.suppression import suppress

    suppress("+5511955554444", reason="opt_out")
    unknown = ConversationFactory(client=None, chat_id="5511955554444@c.us")
    with pytest.raises(ApplicationError):
        quick_actions.operator_send(conversation=unknown, text="Oi", by=ana)
    assert waha.sent == []


def test_confirming_a_payment_marks_the_charge_paid_through_the_billing_service(ana):
    charge = ChargeFactory()
    PromiseToPay.objects.create(
        charge=charge, promised_date=timezone.localdate(), follow_up_at=timezone.now()
    )
    conversation = ConversationFactory(client=charge.client)
    quick_actions.conversation_confirm_payment(
        conversation=conversation, charge=charge, by=ana, ip="10.0.0.2"
    )
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID
    assert charge.promises.get().status == PromiseToPay.Status.KEPT
    assert AuditLog.objects.get(action="charge.mark_paid").actor == ana


def test_confirming_the_payment_clears_the_flag_it_was_raised_for(ana):
    """Operator test: "Requer atendimento" stayed after "Confirmar pagamento" resolved the payment."""
    charge = ChargeFactory()
    conversation = ConversationFactory(
        client=charge.client,
        needs_attention=True,
        attention_reason="Pagamento informado: conferir comprovante",
    )
    quick_actions.conversation_confirm_payment(conversation=conversation, charge=charge, by=ana)
    conversation.refresh_from_db()
    assert (conversation.needs_attention, conversation.attention_reason) == (False, "")


def test_confirming_a_payment_keeps_a_flag_raised_for_something_else(ana):
    charge = ChargeFactory()
    conversation = ConversationFactory(
        client=charge.client, needs_attention=True, attention_reason="Cliente pediu um atendente"
    )
    quick_actions.conversation_confirm_payment(conversation=conversation, charge=charge, by=ana)
    conversation.refresh_from_db()
    assert conversation.needs_attention and conversation.attention_reason == "Cliente pediu um atendente"


def test_a_promise_goes_through_the_billing_rules_and_is_audited_as_the_operators(ana):
    charge = ChargeFactory(amount=Decimal("300.00"))
    conversation = ConversationFactory(client=charge.client)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    promise = quick_actions.conversation_register_promise(
        conversation=conversation, charge=charge, promised_date=tomorrow, amount=Decimal("100"), by=ana
    )
    charge.refresh_from_db()
    assert (charge.status, promise.amount, promise.promised_date) == ("promised", Decimal("100.00"), tomorrow)
    entry = AuditLog.objects.get(action="promise.create")
    assert entry.actor == ana and entry.details["charge"] == charge.pk
    with pytest.raises(ApplicationError):
        quick_actions.conversation_register_promise(
            conversation=conversation,
            charge=charge,
            promised_date=timezone.localdate() - dt.timedelta(days=1),
            amount=None,
            by=ana,
        )


def test_taking_over_an_unassigned_conversation_makes_it_mine_audited_but_never_steals_one(ana, bia):
    from conversations import services

    free = ConversationFactory()
    services.conversation_take_over(conversation=free, by=ana)
    owned = ConversationFactory(assigned_to=bia)
    services.conversation_take_over(conversation=owned, by=ana)
    free.refresh_from_db()
    owned.refresh_from_db()
    assert (free.state, free.assigned_to, owned.state, owned.assigned_to) == ("human", ana, "human", bia)
    services.conversation_give_back(conversation=owned, by=ana)
    details = list(
        AuditLog.objects.filter(action="conversation.assign").order_by("pk").values_list("details", flat=True)
    )
    assert details == [
        {"from_user": None, "to_user": ana.pk, "via": "take_over"},
        {"from_user": bia.pk, "to_user": None, "via": "give_back"},
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="threads share one SQLite writer lock anyway; the stale-page test above covers the rule",
)
def test_two_operators_assigning_at_the_same_instant_leave_exactly_one_owner():
    import threading

    ana, bia = _operator("ana"), _operator("bia")
    conversation = ConversationFactory()
    barrier = threading.Barrier(2)
    won, refused = [], []

    def take(user):
        try:
            barrier.wait(timeout=10)
            inbox.conversation_assign(conversation=conversation, to=user, expected_id=None, by=user)
            won.append(user.pk)
        except ApplicationError:
            refused.append(user.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(user,)) for user in (ana, bia)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    conversation.refresh_from_db()
    assert len(won) == 1 and len(refused) == 1
    assert conversation.assigned_to_id == won[0]
    assert AuditLog.objects.filter(action="conversation.assign").count() == 1


def test_a_recorded_debtor_message_is_what_the_unread_counts_compare_with(ana):
    from conversations import services

    conversation = ConversationFactory()
    message = services.message_record_inbound(conversation=conversation, body="oi", sent_at=timezone.now())
    services.message_record_outbound(conversation=conversation, body="olá", author="bot", waha_id="true_x_9")
    conversation.refresh_from_db()
    assert conversation.last_inbound_id == message.pk
    assert selectors.inbox_counts(ana)["todas"] == {"total": 1, "unread": 1}
    inbox.conversation_mark_read(conversation=conversation, user=ana, upto_message_id=message.pk)
    assert selectors.inbox_counts(ana)["todas"] == {"total": 1, "unread": 0}


def test_a_canned_reply_posted_with_crlf_is_saved_and_rendered_with_lf_only():
    client = ClientFactory(name="Maria Souza")
    charge = ChargeFactory(client=client)
    canned = CannedReply.objects.create(title="Linhas", body="Olá {primeiro_nome}!\r\nSegue:\r\n\r\nobrigado")
    canned.refresh_from_db()
    assert canned.body == "Olá {primeiro_nome}!\nSegue:\n\nobrigado"
    CannedReply.objects.filter(pk=canned.pk).update(body="Oi\r\n{primeiro_nome}")  # saved before the fix
    canned.refresh_from_db()
    text = quick_actions.canned_reply_render(
        canned=canned, conversation=ConversationFactory(client=client), charge=charge
    )
    assert text == "Oi\nMaria"
