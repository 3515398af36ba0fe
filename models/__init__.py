"""The model: lead state and features (pure functions shared by training and serving),
synthetic history, training, calibration, explanations, evaluation, and the artifact format.

May import: ``schemas`` only (``streams -> models -> schemas``). See models/README.md.
"""
