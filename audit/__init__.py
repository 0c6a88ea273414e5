"""Audit trail: who did what to which record, without personal data (LGPD art. 37: records of processing)."""
