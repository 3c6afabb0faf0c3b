"""The provider contract and the entry-point registry."""

from replicator.providers.base import Api, BoundResource, Cursor, Page, Provider, Resource, Tenant
from replicator.providers.registry import Registry, load_providers

__all__ = ["Api", "BoundResource", "Cursor", "Page", "Provider", "Registry", "Resource", "Tenant",
           "load_providers"]
