"""Feature services: what a model version asks for, by name and version (fraud_v1).

The scorer and the trainer refer only to a feature service, never to views, so a model is
trained and served on exactly the same feature list."""

from entities import DECLARATIONS
from feast import FeatureService
from views import VIEWS

SERVICES = {
    name: FeatureService(name=name, features=[VIEWS[v.name] for v in spec.views],
                         description=spec.description)
    for name, spec in DECLARATIONS.services.items()
}

# Feast finds objects by scanning each module's attributes: publish every one by name.
globals().update({f"service_{name}": service for name, service in SERVICES.items()})
