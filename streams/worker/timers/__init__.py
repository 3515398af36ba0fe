"""Faust timers, one module each. Each offers ``register(app, ctx)``; none imports the app."""
