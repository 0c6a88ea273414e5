"""A standalone WAHA (WhatsApp HTTP API) simulator for tests, demos and ``manage.py waha_simulator``.

See docs/waha-simulator.md. Import from the submodules: ``server.WahaSimulatorServer``,
``core.SimulatorOptions`` (defined in ``base``), ``testing.running_simulator``.
"""
