"""Paging strategies shared by providers."""

from replicator.paging.nextlink import follow

__all__ = ["follow"]
