"""rotwatch: keep the links inside published articles alive and on record."""

__version__ = "0.1.0"
