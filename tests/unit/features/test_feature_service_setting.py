"""Which feature service is served: DRIFTLOOP_FEATURE_SERVICE, else the domain's own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from driftloop.contracts.domain import BUILT_IN_DOMAINS_DIR
from driftloop.featurestore import FeatureStoreSettings


def test_the_domain_names_its_feature_service_and_the_setting_overrides_it() -> None:
    assert FeatureStoreSettings(domain="cards").service_name() == "fraud_v2"
    assert FeatureStoreSettings(domain="cards", feature_service="fraud_v1").service_name() \
        == "fraud_v1"


def test_a_domain_without_one_is_a_clear_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(BUILT_IN_DOMAINS_DIR / "cards", bare)
    toml = (bare / "domain.toml").read_text()
    (bare / "domain.toml").write_text(toml.replace('feature_service = "fraud_v2"', ""))
    monkeypatch.setenv("DRIFTLOOP_DOMAINS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="domain 'bare' declares no feature_service"):
        FeatureStoreSettings(domain="bare").service_name()
