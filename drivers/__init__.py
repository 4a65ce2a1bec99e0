"""Transports for ``aionova.rpc``: each implements the ``aionova.rpc.driver.Driver`` protocol."""
