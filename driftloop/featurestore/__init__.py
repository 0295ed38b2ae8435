"""Feature store: the capability scorer, trainer and the features service share. Feature
declarations (feature_repo/features.toml), the online store in Feast's own layout read
without importing Feast (fast start, small memory), the feature client with deadline,
circuit breaker and declared defaults, and point-in-time training sets through Feast."""

from __future__ import annotations

from driftloop.featurestore.circuit_breaker import CircuitBreaker
from driftloop.featurestore.declarations import (
    FeatureDeclarations,
    FeatureSpec,
    ServiceDeclaration,
    ViewDeclaration,
)
from driftloop.featurestore.feature_client import FeatureClient, FeatureLookup
from driftloop.featurestore.settings import FeatureStoreSettings

__all__ = [
    "CircuitBreaker",
    "FeatureClient",
    "FeatureDeclarations",
    "FeatureLookup",
    "FeatureSpec",
    "FeatureStoreSettings",
    "ServiceDeclaration",
    "ViewDeclaration",
]
