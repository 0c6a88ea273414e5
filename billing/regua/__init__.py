"""Régua de cobrança: automatic reminders relative to each charge's due date (see docs/regua.md)."""
