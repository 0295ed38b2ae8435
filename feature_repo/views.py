"""Feature views: named groups of features of one entity, computed and written together.

Every feature is Float64 and its name is generated from features.toml's aggregates
(`{prefix}_{agg}_{window}`), so adding a feature is one line there. A view's TTL bounds how
far back a point-in-time join looks; Feast does not enforce it on online reads."""

from datetime import timedelta

from entities import DECLARATIONS, ENTITIES
from feast import FeatureView, Field
from feast.types import Float64
from sources import PUSH_SOURCES


def _feature_names(view: dict) -> list[str]:
    names = []
    for agg in view.get("aggregates", []):
        for kind in agg["aggs"]:
            if kind == "seconds_since_last":
                names.append(agg["prefix"])
            else:
                names.extend(f"{agg['prefix']}_{kind}_{w}" for w in agg["windows"])
    return names


VIEWS = {
    view["name"]: FeatureView(
        name=view["name"],
        entities=[ENTITIES[view["entity"]]],
        ttl=timedelta(days=view.get("ttl_days", 1)),
        schema=[Field(name=n, dtype=Float64) for n in _feature_names(view)],
        source=PUSH_SOURCES[view["name"]],
        online=True,
        description=view.get("description", ""),
    )
    for view in DECLARATIONS["views"]
}

# Feast finds objects by scanning each module's attributes: publish every one by name.
globals().update({f"view_{name}": view for name, view in VIEWS.items()})
