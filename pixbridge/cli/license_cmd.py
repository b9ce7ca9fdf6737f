"""``pixbridge license``: check a kit, make signing keys, issue and verify support certificates.

``keygen`` and ``issue`` are the vendor's tools and need no settings; the private key is read
from the file given on the command line, used for one signature and never stored, copied or
logged by pixbridge. ``check`` runs the configured validator chain; ``verify`` checks one
certificate file against the trusted keys (from the settings, or ``--public-key`` files).

Exit status of ``check`` and ``verify``: 0 support allowed, 1 refused, 3 indeterminate.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pixbridge.adapters import AdapterContext
from pixbridge.builtins.certificate_license import CertificateLicenseValidator
from pixbridge.cli.main import CliState, echo_json
from pixbridge.licensing.certificate import (
    EXTENSION,
    build_payload,
    parse_public_key,
    public_key_hex,
    sign_certificate,
)
from pixbridge.licensing.combine import LicenseCheck, run_chain
from pixbridge.models import LicenseQuery, LicenseResult, LicenseVerdict

__all__ = ["license_group", "parse_at"]

_EXIT = {LicenseVerdict.VALID: 0, LicenseVerdict.INVALID: 1, LicenseVerdict.INDETERMINATE: 3}


def parse_at(value: str | None) -> datetime:
    """``--at``: a day (taken at 12:00 UTC, the same day in almost every zone) or an ISO time."""
    if not value:
        return datetime.now(UTC)
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(12), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: write YYYY-MM-DD or an ISO time like 2026-01-15T09:00:00+03:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: write the day as YYYY-MM-DD", param_hint=option
        ) from None


@click.group("license")
def license_group() -> None:
    """Licences: check kits, issue and verify support certificates."""


def _print_check(check: LicenseCheck) -> None:
    click.echo(f"verdict:        {check.verdict.value}  [{', '.join(check.codes) or '-'}]")
    click.echo(f"support:        {'allowed' if check.support_allowed else 'not allowed'}")
    click.echo(f"support until:  {check.support_until or '-'}")
    click.echo(f"serial/product: {check.serial or '-'} / {check.product or '-'}")
    click.echo(f"dongle:         {check.dongle or '-'}")
    click.echo(f"decided by:     {check.source or '-'} (rule {check.rule}) at {check.as_of}")
    for result in check.results:
        click.echo(f"  {result.source}: {result.verdict.value} [{', '.join(result.codes) or '-'}]")


@license_group.command("check")
@click.argument("serial")
@click.option("--key", "dongle", help="The hardware key (dongle) id the customer gives.")
@click.option("--product", help="The product the customer names.")
@click.option("--customer", help="The customer's e-mail address.")
@click.option("--at", "at", help="Check as of this day or time (default: now).")
@click.option(
    "--certificate",
    "certificates",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A certificate file, as if attached to the mail (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@click.pass_context
def check(
    ctx: click.Context,
    state: CliState,
    serial: str,
    dongle: str | None,
    product: str | None,
    customer: str | None,
    at: str | None,
    certificates: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Run the configured licence validators on SERIAL."""
    app = state.app()
    validators = app.license_validators()
    if not validators:
        raise click.ClickException(
            "no licence validator is configured; set [pipeline] license_validators"
        )
    query = LicenseQuery(
        at=parse_at(at),
        serial=serial,
        dongle=dongle,
        customer=customer,
        product=product,
        certificates=tuple(p.read_bytes() for p in certificates),
    )
    result = run_chain(validators, query)
    if as_json:
        echo_json(result.as_dict())
    else:
        _print_check(result)
    ctx.exit(_EXIT[result.verdict] if not result.support_allowed else 0)


@license_group.command("keygen")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the key pair (created if needed).",
)
@click.option("--key-id", "kid", default=None, help="Key id (default: vendor-<YYYYMMDD>).")
def keygen(out: Path, kid: str | None) -> None:
    """Make an Ed25519 key pair: KID.key (private, mode 0600) and KID.pub (public)."""
    kid = kid or f"vendor-{datetime.now(UTC):%Y%m%d}"
    out.mkdir(parents=True, exist_ok=True)
    private, public = out / f"{kid}.key", out / f"{kid}.pub"
    for path in (private, public):
        if path.exists():
            raise click.ClickException(f"{path} exists; choose another --key-id or folder")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created with mode 0600 from the start: never world-readable, not even for a moment.
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    hex_key = public_key_hex(key)
    public.write_text(f"{kid} {hex_key}\n", encoding="ascii")
    click.echo(f"private key: {private} (keep it offline; pixbridge never needs it)")
    click.echo(f"public key:  {public}")
    click.echo("trust it in the settings of the pixbridge that checks certificates:")
    click.echo(f'  [adapters.certificate.trusted_keys]\n  "{kid}" = "{hex_key}"')


def _private_key(path: Path) -> Ed25519PrivateKey:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        click.echo(f"warning: {path} is readable by others; run chmod 600 {path}", err=True)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        # The library's message never contains key material; keep only its first line.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise click.ClickException(
            f"{path}: not an unencrypted PEM private key ({reason}); make one with "
            "`pixbridge license keygen`"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise click.ClickException(f"{path}: not an Ed25519 key; make one with license keygen")
    return key


@license_group.command("issue")
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The private key file (PEM) to sign with.",
)
@click.option("--key-id", "kid", required=True, help="The key's id, as trusted by pixbridge.")
@click.option("--serial", required=True, help="The kit's serial number.")
@click.option("--product", required=True, help="The product of the kit.")
@click.option("--customer", required=True, help="The licensee's name.")
@click.option("--until", "until", required=True, help="Last day of support (YYYY-MM-DD).")
@click.option("--from", "start", default=None, help="First day of support (default: today).")
@click.option("--timezone", "zone", default="UTC", show_default=True, help="Zone of the days.")
@click.option("--dongle", default=None, help="Hardware key id, e.g. guardant:0x1A2B3C4D.")
@click.option("--email", "emails", multiple=True, help="A contact address (repeatable).")
@click.option("--domain", "domains", multiple=True, help="A customer mail domain (repeatable).")
@click.option("--level", default="standard", show_default=True, help="Support level.")
@click.option("--generation", "generations", multiple=True, type=int, help="Covered generation.")
@click.option("--license-until", default=None, help="End of the right to use (term licences).")
@click.option("--issuer", default="", help="Who issues it (shown to agents).")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Certificate file to write (conventionally *{EXTENSION}).",
)
def issue(
    key_file: Path,
    kid: str,
    serial: str,
    product: str,
    customer: str,
    until: str,
    start: str | None,
    zone: str,
    dongle: str | None,
    emails: tuple[str, ...],
    domains: tuple[str, ...],
    level: str,
    generations: tuple[int, ...],
    license_until: str | None,
    issuer: str,
    out: Path,
) -> None:
    """Sign a support certificate for one kit."""
    if out.exists():
        raise click.ClickException(f"{out} exists; certificates are never overwritten")
    key = _private_key(key_file)
    now = datetime.now(UTC)
    try:
        payload = build_payload(
            serial=serial.strip(),
            product=product.strip(),
            customer=customer.strip(),
            until=_day(until, "--until"),
            start=_day(start, "--from") if start else now.date(),
            issued_at=now,
            timezone=zone,
            dongle=dongle,
            emails=emails,
            domains=domains,
            level=level,
            generations=generations,
            license_until=_day(license_until, "--license-until") if license_until else None,
            issuer=issuer,
        )
        data = sign_certificate(payload, key, kid)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    out.write_bytes(data)
    click.echo(f"certificate for {serial} until {until} ({zone}) written to {out}")


def _trust_from_files(files: tuple[Path, ...]) -> dict[str, str]:
    trusted = {}
    for path in files:
        parts = path.read_text(encoding="utf-8").split()
        if len(parts) != 2:
            raise click.ClickException(f"{path}: expected one line '<key id> <64 hex digits>'")
        try:
            parse_public_key(parts[1])
        except ValueError as exc:
            raise click.ClickException(f"{path}: {exc}") from None
        trusted[parts[0]] = parts[1]
    return trusted


@license_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust this KID.pub file instead of the settings (repeatable).",
)
@click.option("--at", "at", help="Check the window as of this day or time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@click.pass_context
def verify(
    ctx: click.Context,
    state: CliState,
    file: Path,
    public_keys: tuple[Path, ...],
    at: str | None,
    as_json: bool,
) -> None:
    """Verify a support certificate FILE: signature, key id, revocation and window."""
    if public_keys:
        settings = CertificateLicenseValidator.Settings(trusted_keys=_trust_from_files(public_keys))
    else:
        raw: Any = state.settings().adapters.get("certificate", {})
        try:
            settings = CertificateLicenseValidator.Settings.model_validate(raw)
        except ValueError as exc:
            raise click.ClickException(f"[adapters.certificate]: {exc}") from None
    validator = CertificateLicenseValidator(settings, AdapterContext(data_dir=Path(".")))
    try:
        validator.open()
    except Exception as exc:
        raise click.ClickException(str(exc)) from None
    result = validator.validate(LicenseQuery(at=parse_at(at), certificates=(file.read_bytes(),)))
    if as_json:
        echo_json(_result_dict(result))
    else:
        click.echo(f"{file}: {result.verdict.value} [{', '.join(result.codes) or '-'}]")
        for name, value in result.evidence.items():
            click.echo(f"  {name}: {value}")
    ctx.exit(_EXIT[result.verdict] if not result.support_allowed else 0)


def _result_dict(result: LicenseResult) -> dict[str, Any]:
    return {
        "verdict": result.verdict.value,
        "codes": list(result.codes),
        "support_allowed": result.support_allowed,
        "support_until": result.support_until.isoformat() if result.support_until else None,
        "source": result.source,
        "evidence": dict(result.evidence),
    }
