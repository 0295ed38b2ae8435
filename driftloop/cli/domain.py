"""``driftloop domain list|check``: the domains a deployment can run, and whether one's folder
holds everything a domain needs (see driftloop.contracts.domain_check)."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    domain = typer.Typer(no_args_is_help=True, help="Domains: folders under domains/.")
    app.add_typer(domain, name="domain")

    @domain.command("list")
    def list_() -> None:
        """Every domain, the default marked."""
        from driftloop.contracts import Domain
        from driftloop.contracts.domain import default_domain, domain_names

        default = default_domain()
        for name in domain_names():
            d = Domain.load(name)
            typer.echo(f"{'*' if name == default else ' '} {name:<10} {d.event_schema:<36} "
                       f"model {d.model_name}, features {d.feature_service}")

    @domain.command("check")
    def check(name: str = typer.Argument(..., help="The domain's folder name."),
              as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
        """Validate a domain's files; exit 1 naming each problem."""
        from driftloop.contracts.domain_check import as_dict, check_domain, describe

        report = check_domain(name)
        typer.echo(json.dumps(as_dict(report), indent=2) if as_json else describe(report))
        raise typer.Exit(0 if report.ok else 1)
