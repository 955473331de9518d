"""mergetool: reconcile statistics across administrative mergers.

The library is importable; the ``mergetool`` command is a thin layer over it.
"""

__version__ = "0.1.0"
