"""The dashboard page at ``/``: server-rendered HTML over the same services as the API."""
