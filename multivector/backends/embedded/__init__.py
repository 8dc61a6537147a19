"""The embedded engine: token arenas, BM25 indexes, approximate index, filter masks, read views."""
