"""Observability: Prometheus metrics, the health endpoint and structured, redacted logs.

Import the submodules directly (:mod:`.metrics`, :mod:`.server`, :mod:`.logs`,
:mod:`.settings`); this package imports nothing so the settings module can use it without a cycle.
"""
