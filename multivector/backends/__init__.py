"""Storage engines behind one protocol (``protocol.py``): ``embedded/`` (in-process arenas, BM25,
approximate index, filter masks), ``durable/`` (SQLite under the embedded engine) and ``qdrant/``.

None imports the facade, retrieval or a framework; none reaches into another's internals
(``durable`` builds on ``embedded``'s public engine and storage interface).
"""
