"""Text analysis shared by every backend: tokenization, stopwords, BM25 scoring formulas."""
