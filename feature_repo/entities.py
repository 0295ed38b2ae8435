"""Entities: what features are about. Declared in each domain's features.toml; a Feast Entity
each.

An entity's join key is the column that joins feature rows to the rows of a training set (or
to a lookup at scoring time)."""

from pathlib import Path

from feast import Entity, ValueType

from driftloop.featurestore.declarations import FeatureDeclarations

# feature_repo/features.toml (the project) and every domain's declarations
DECLARATIONS = FeatureDeclarations.load(Path(__file__).parent)

ENTITIES = {
    name: Entity(name=name, join_keys=[spec.join_key], value_type=ValueType.STRING,
                 description=spec.description)
    for name, spec in DECLARATIONS.entities.items()
}

# Feast finds objects by scanning each module's attributes: publish every one by name.
globals().update({f"entity_{name}": entity for name, entity in ENTITIES.items()})
