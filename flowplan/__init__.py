"""flowplan: declarative plan/apply for Adobe Experience Platform Flow Service connections."""

__version__ = "0.1.0"
