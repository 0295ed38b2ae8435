"""A domain: one folder of configuration, ``domains/NAME/``, selected by DRIFTLOOP_DOMAIN.

The folder holds everything the domain is and nothing else does:

- ``domain.toml``: which event schema the platform carries and which of its fields name the
  entity, the event id and the event time; the model's name and the feature service it reads;
  the objective its thresholds serve; the model inputs computed from the event and the rule
  served before any model; the stream generator demos and tests play, with its label cadence
  (how labels arrive) and the demo-speed clocks of the services; the slices errors are counted
  by (``driftloop.contracts.slices``);
- ``*.avsc``: the event schema (loaded with the shared schemas of schemas/);
- ``features.toml``: its entities, feature views and feature services (Feast's repository in
  feature_repo/ loads every domain's).

Adding a domain is adding a folder (``driftloop domain check NAME`` says what is missing),
never changing service code. Reading a domain needs only the standard library."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The repository's domains/ folder; DRIFTLOOP_DOMAINS_DIR points elsewhere (a deployment's
#: own domains, or a test's throwaway one).
BUILT_IN_DOMAINS_DIR = Path(__file__).resolve().parents[2] / "domains"
#: Which domain a deployment runs when DRIFTLOOP_DOMAIN is unset: domains/index.toml says.
INDEX_FILE = "index.toml"
DOMAIN_FILE = "domain.toml"
FEATURES_FILE = "features.toml"


class DomainError(ValueError):
    """A domain folder is missing or declares something impossible."""


def domains_dir() -> Path:
    """Where domains are read from: DRIFTLOOP_DOMAINS_DIR, else the repository's domains/."""
    configured = os.environ.get("DRIFTLOOP_DOMAINS_DIR")
    return Path(configured).resolve() if configured else BUILT_IN_DOMAINS_DIR


def domain_names(directory: Path | None = None) -> list[str]:
    """Every domain folder (one holding a domain.toml), by name."""
    root = directory or domains_dir()
    return sorted(p.parent.name for p in root.glob(f"*/{DOMAIN_FILE}"))


def default_domain(directory: Path | None = None) -> str:
    """The domain to run when none is named: DRIFTLOOP_DOMAIN, else ``default`` in
    domains/index.toml, else the only domain there is. Configuration, not code, decides it."""
    if os.environ.get("DRIFTLOOP_DOMAIN"):
        return os.environ["DRIFTLOOP_DOMAIN"]
    root = directory or domains_dir()
    index = root / INDEX_FILE
    if index.exists():
        return str(tomllib.loads(index.read_text())["default"])
    names = domain_names(root)
    if len(names) == 1:
        return names[0]
    raise DomainError(f"{root} holds {len(names)} domains ({', '.join(names) or 'none'}) and no "
                      f"{INDEX_FILE} naming the default: set DRIFTLOOP_DOMAIN")


@dataclass(frozen=True)
class Domain:
    name: str
    event_schema: str
    entity_field: str
    event_id_field: str
    event_time_field: str
    model_name: str
    # what label 1 means, in the domain's words ("fraud", "default"), for text and CLI help
    positive: str = "positive"
    negative: str = "negative"
    doc: str = ""
    # what a yes/no decision is worth (the trainer's thresholds and scores); None: F1
    objective: dict[str, Any] | None = None
    # the feature service (features.toml) its models read online features from
    feature_service: str | None = None
    # the event-derived model inputs and the rule served before any model (ModelInputs)
    model_inputs: dict[str, Any] = field(default_factory=dict)
    # the generator demos and tests play (driftloop.simulation.streams), its label cadence
    # and the services' clocks at demo speed (DemoConfig)
    stream: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    cadence: dict[str, Any] = field(default_factory=dict)
    # the named groups of events the trainer's error analysis counts errors by (Slices)
    slices: dict[str, Any] = field(default_factory=dict)
    directory: Path = BUILT_IN_DOMAINS_DIR

    @classmethod
    def load(cls, name: str | None = None, directory: Path | None = None) -> Domain:
        """``domains/NAME/domain.toml`` (NAME None: the default domain)."""
        root = directory or domains_dir()
        name = name or default_domain(root)
        folder = root / name
        path = folder / DOMAIN_FILE
        if not path.exists():
            known = ", ".join(domain_names(root)) or "none"
            raise DomainError(f"unknown domain {name!r}: {path} does not exist (domains in "
                              f"{root}: {known})")
        raw = tomllib.loads(path.read_text())
        missing = [k for k in ("event_schema", "entity_field", "event_id_field",
                               "event_time_field", "model_name") if k not in raw]
        if missing:
            raise DomainError(f"{path} does not declare {', '.join(missing)}")
        if raw.get("name", name) != name:
            raise DomainError(f"{path} names itself {raw['name']!r}: a domain is named by "
                              "its folder")
        return cls(
            name=name,
            event_schema=raw["event_schema"],
            entity_field=raw["entity_field"],
            event_id_field=raw["event_id_field"],
            event_time_field=raw["event_time_field"],
            model_name=raw["model_name"],
            positive=raw.get("positive", "positive"),
            negative=raw.get("negative", "negative"),
            doc=raw.get("doc", ""),
            objective=raw.get("objective"),
            feature_service=raw.get("feature_service"),
            model_inputs=raw.get("model_inputs", {}),
            stream=raw.get("stream", {}),
            labels=raw.get("labels", {}),
            cadence=raw.get("cadence", {}),
            slices=raw.get("slices", {}),
            directory=folder,
        )

    @property
    def features_file(self) -> Path:
        return self.directory / FEATURES_FILE

    def schema_files(self) -> list[Path]:
        return sorted(self.directory.glob("*.avsc"))
