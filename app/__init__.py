"""NTM Tracker: New Rural Development (nông thôn mới) criteria tracking service."""

__version__ = "0.1.0"
