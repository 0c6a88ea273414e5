from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"
    verbose_name = "Cobrança"

    def ready(self) -> None:
        from billing.payments.apply import payment_applied
        from billing.payments.queue import payment_issues_resolve_for

        # A Pix applied as a payment closes the queue's open issues about it (its e2eid).
        payment_applied.connect(payment_issues_resolve_for, dispatch_uid="billing.queue.resolve_applied_pix")
