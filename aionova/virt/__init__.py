"""Hypervisor drivers: a small protocol and the fake implementation."""
