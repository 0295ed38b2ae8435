"""The registry's exceptions: every failure it reports is a ``RegistryError``."""

from __future__ import annotations


class RegistryError(RuntimeError):
    """An unknown model or version, a missing alias, or an operation that cannot be done."""


class IntegrityError(RegistryError):
    """An artifact's bytes do not match the sha256 recorded when it was registered."""


class InvalidMetadata(RegistryError):
    """A version's metadata lacks what serving it needs (features, threshold, input and output
    names) or holds it in the wrong form: refused before it is registered or loaded."""
