"""Test helpers for pixbridge and its plugins, shipped as a pytest plugin.

``pixbridge.testing.contracts`` holds one test suite per adapter kind; an adapter author
subclasses the suite and supplies one ``adapter`` fixture.
"""
