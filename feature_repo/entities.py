"""Entities: what features are about. Declared in features.toml; a Feast Entity each.

An entity's join key is the column that joins feature rows to the rows of a training set (or
to a lookup at scoring time)."""

import tomllib
from pathlib import Path

from feast import Entity, ValueType

DECLARATIONS = tomllib.loads((Path(__file__).parent / "features.toml").read_text())

ENTITIES = {
    name: Entity(name=name, join_keys=[spec["join_key"]], value_type=ValueType.STRING,
                 description=spec.get("description", ""))
    for name, spec in DECLARATIONS["entities"].items()
}

# Feast finds objects by scanning each module's attributes: publish every one by name.
globals().update({f"entity_{name}": entity for name, entity in ENTITIES.items()})
