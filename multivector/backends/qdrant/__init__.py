"""The Qdrant backend: the same collections on Qdrant (server, cluster, or in-process)."""
