"""Ground up: the collection schema, the query vocabulary (filters, fusion, operators) and their validation.

Imports only the ground (errors, array aliases, results). Public paths: ``multivector.config``,
``multivector.query``.
"""
