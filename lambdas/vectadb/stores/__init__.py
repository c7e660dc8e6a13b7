"""Stores behind small interfaces, chosen by configuration (a URL or a path)."""
