"""Durability for the embedded engine: SQLite (source of truth) and the store folder's caches."""
