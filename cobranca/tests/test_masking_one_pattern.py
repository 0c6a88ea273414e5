"""API reads and logs find phones with one pattern: what the log masking hides, a masked id hides too."""

from __future__ import annotations

import pytest

from cobranca.masking import mask_embedded_numbers, mask_text

FORMS = [
    "false_5541988887777@c.us_3EB0ABCDEF",
    "5511987654321@c.us",
    "dispatch_11.98765.4321",
    "id-(11) 98765-4321",
    "x+55 11 98765 4321y",
]


@pytest.mark.parametrize("value", FORMS)
def test_an_id_masked_for_a_read_keeps_no_run_of_digits_the_logs_would_hide(value):
    masked = mask_embedded_numbers(value)
    assert "98765" not in masked and "88887" not in masked
    assert "98765" not in mask_text(value) and "88887" not in mask_text(value)


def test_ips_and_dates_stay_readable_in_ids():
    assert mask_embedded_numbers("req_2026-12-07_10.0.0.1") == "req_2026-12-07_10.0.0.1"
