"""The Weaviate-shaped facade: ``connect``, ``Client``, ``Collection`` and its ``data`` / ``query`` /
``batch`` namespaces. Thin: arguments become plans (``multivector.retrieval``), results come back.
"""
