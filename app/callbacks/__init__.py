"""Thin callbacks, one module per view.

Each module exposes plain functions (``svc`` and the callback's inputs in, the outputs
out), which the tests call directly, and ``register(app, svc)``, which wires them to the
components named in ``app.ids``.
"""
