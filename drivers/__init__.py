"""Transports for ``rpc``: each implements the ``rpc.driver.Driver`` protocol."""
