"""Stores: the embedded store, its indexes and filters, the Collection API and scale-out backends."""
