from django.apps import AppConfig


class ChatbotConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "chatbot"
    verbose_name = "Assistente virtual"

    def ready(self) -> None:
        from billing.payments.apply import payment_applied
        from chatbot.payment_thanks import on_payment_applied

        # A payment that arrives is acknowledged to the debtor (once, within the send window).
        payment_applied.connect(on_payment_applied, dispatch_uid="chatbot.payment_thanks")
