"""Which feature service is served: DRIFTLOOP_FEATURE_SERVICE, else the domain's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import driftloop.contracts.domain as domain_module
from driftloop.featurestore import FeatureStoreSettings


def test_the_domain_names_its_feature_service_and_the_setting_overrides_it() -> None:
    assert FeatureStoreSettings(domain="cards").service_name() == "fraud_v2"
    assert FeatureStoreSettings(domain="cards", feature_service="fraud_v1").service_name() \
        == "fraud_v1"


def test_a_domain_without_one_is_a_clear_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.loads((domain_module.DEFAULT_DOMAINS_DIR / "cards.json").read_text())
    del raw["feature_service"]
    (tmp_path / "bare.json").write_text(json.dumps({**raw, "name": "bare"}))
    monkeypatch.setattr(domain_module, "DEFAULT_DOMAINS_DIR", tmp_path)
    with pytest.raises(ValueError, match="domain 'bare' declares no feature_service"):
        FeatureStoreSettings(domain="bare").service_name()
