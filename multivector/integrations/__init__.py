"""Thin LlamaIndex and LangChain classes over a ready collection and embedder (optional extras)."""
