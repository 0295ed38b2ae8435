"""Feature views: named groups of features of one entity, computed and written together.

Every feature is Float64 and its name is generated from a domain's features.toml aggregates
(`{prefix}_{agg}_{window}`, by driftloop.featurestore.declarations, the one place names are
made), so adding a feature is one line there. A view's TTL bounds how
far back a point-in-time join looks; Feast does not enforce it on online reads."""

from datetime import timedelta

from entities import DECLARATIONS, ENTITIES
from feast import FeatureView, Field
from feast.types import Float64
from sources import PUSH_SOURCES

VIEWS = {
    name: FeatureView(
        name=name,
        entities=[ENTITIES[view.entity.name]],
        ttl=timedelta(days=view.ttl_days),
        schema=[Field(name=f.name, dtype=Float64) for f in view.features],
        source=PUSH_SOURCES[name],
        online=True,
        description=view.description,
    )
    for name, view in DECLARATIONS.views.items()
}

# Feast finds objects by scanning each module's attributes: publish every one by name.
globals().update({f"view_{name}": view for name, view in VIEWS.items()})
