"""Yakuba (役場): a self-hostable Japanese RAG assistant for local governments."""

__version__ = "0.1.0"
