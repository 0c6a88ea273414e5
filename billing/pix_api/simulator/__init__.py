"""A stand-alone PSP look-alike speaking the API Pix, for tests, demos and ``make run`` (docs/payments.md).

Like ``whatsapp.simulator`` it imports no app and no Django: ``PixSimulatorServer`` runs in a test's thread
(``running_pix_simulator()``) or in the foreground (``manage.py pix_simulator``).
"""

from __future__ import annotations

from .brcode import crc16, dynamic_brcode, parse_brcode
from .server import PixSimulatorServer
from .state import Faults, Options, Problem, PspState
from .testing import running_pix_simulator

__all__ = [
    "Faults",
    "Options",
    "PixSimulatorServer",
    "Problem",
    "PspState",
    "crc16",
    "dynamic_brcode",
    "parse_brcode",
    "running_pix_simulator",
]
