"""Shared kernels: pure domain code that every service may depend on and that does no I/O.

- ``kernels.policy``: the plan schema, the determination engine, coverage and what is owed.
- ``kernels.regions``: the administrative division tree (province → village codes and names).

A kernel imports only ``shared`` helpers without I/O and third-party libraries; it never
imports a service (import-linter contracts in pyproject.toml).
"""
