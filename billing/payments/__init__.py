"""Payments close the loop: what arrives (Pix at the creditor's PSP, statement lines, receipts confirmed at
the PSP, an operator's record) is applied to charges and agreement installments by `apply.apply_payment`, the
one writer of Payment rows. See docs/payments.md.
"""
