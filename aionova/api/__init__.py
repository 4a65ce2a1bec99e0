"""The Nova-compatible REST API (aiohttp): a subset of compute API v2.1 with microversions."""

from aionova.api.app import create_app

__all__ = ["create_app"]
