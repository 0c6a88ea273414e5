from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from chatbot.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_only_one_model_version_is_active():
    ModelVersion.objects.create(version="v1", path="a.pt", is_active=True, metrics={"macro_f1": 0.9})
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(version="v2", path="b.pt", is_active=True)
    assert ModelVersion.objects.get(version="v1").macro_f1 == 0.9
