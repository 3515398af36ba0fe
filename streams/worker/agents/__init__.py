"""Faust agents, one module each, named for what they consume. Each offers
``register(app, ctx)`` and never imports the app module."""
