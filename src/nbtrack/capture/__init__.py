"""The capture engine: one execution of a block of code recorded as one run.

IPython-free: the ``%%track`` magic, ``nbtrack.track()`` and exported scripts all call it.
"""
