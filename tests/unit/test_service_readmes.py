"""Each service's README keeps its settings table as generated from its settings class:
change a setting and forget the docs, and this fails, naming the command that fixes it."""

from __future__ import annotations

import pytest

from driftloop.cli.settings import readme_path, settings_class
from driftloop.runtime.settings_table import own_fields, settings_table, table_in, with_table
from tests.unit.test_architecture import THE_FIVE


@pytest.mark.parametrize("service", sorted(THE_FIVE))
def test_the_readme_settings_table_is_the_generated_one(service: str) -> None:
    readme = readme_path(service).read_text()
    assert table_in(readme) == settings_table(settings_class(service)), (
        f"run: driftloop settings {service} --write")


def test_the_table_lists_own_fields_only_and_replaces_in_place() -> None:
    cls = settings_class("scorer")
    fields = own_fields(cls)
    assert "scorer_port" in fields and "kafka_bootstrap" not in fields
    table = settings_table(cls)
    assert "`DRIFTLOOP_SCORER_PORT` | `8002` |" in table
    once = with_table("# scorer\n", table)
    assert with_table(once, table) == once and once.count("settings:begin") == 1
