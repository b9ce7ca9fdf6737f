"""Entitlement: is the customer who writes entitled to technical support?

- :mod:`pixbridge.licensing.codes`: the ordered failure codes shared by every validator;
- :mod:`pixbridge.licensing.combine`: running the configured validator chain and the rule that
  combines their answers into one :class:`~pixbridge.licensing.combine.LicenseCheck`;
- :mod:`pixbridge.licensing.certificate`: the signed support-certificate format (Ed25519);
- :mod:`pixbridge.licensing.settings`: the ``[license]`` intake policy settings;
- :mod:`pixbridge.licensing.policy`: what intake does with a check (flag, ask, notify);
- :mod:`pixbridge.licensing.records`: the check stored with the request and shown in its JSON.

This package's ``__init__`` imports nothing, so :mod:`pixbridge.settings` can import the
settings model without pulling in the lifecycle.
"""
