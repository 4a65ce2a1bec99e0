"""Keystone identity for the REST API (``[api] auth_strategy = keystone``)."""

from aionova.api.keystone.client import ConfigError, KeystoneClient, KeystoneUnavailable
from aionova.api.keystone.identity import KeystoneIdentity, identity_from_token

__all__ = [
    "ConfigError",
    "KeystoneClient",
    "KeystoneIdentity",
    "KeystoneUnavailable",
    "identity_from_token",
]
