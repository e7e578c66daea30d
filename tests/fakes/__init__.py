"""Hand-written fakes: Azure Artifacts over HTTPS, a CONNECT proxy that routes to it, and ``az``."""
