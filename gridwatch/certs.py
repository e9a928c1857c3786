"""A site's own certificate authority: the CA, the broker's (and the API's) server
certificates, and client certificates for edge nodes and gateways.

One directory holds everything, by name: ``ca.crt`` / ``ca.key``, ``<name>.crt`` /
``<name>.key``. Keys are written owner-only (0600) and never overwritten unless asked
(a replaced CA key would orphan every certificate it signed).

- The CA: ECDSA P-256 (or RSA 3072), CA:TRUE with path length 0, 10 years.
- Servers (``mqtt.example``, ``10.0.0.5``): the names clients connect to as
  subjectAltNames (DNS or IP), serverAuth, 825 days (what browsers and most TLS stacks
  still accept for a leaf).
- Clients: CN = the client id (node id, gateway id), clientAuth, 825 days. With
  Mosquitto's ``use_identity_as_username true`` the CN is the username its ACL checks.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825
CA_NAME = "ca"
ORGANISATION = "GridWatch"


class CertError(RuntimeError):
    """A certificate cannot be made; the message says why and what to do."""


class KeyType(StrEnum):
    EC = "ec"  # ECDSA P-256: small and fast; every current TLS stack and Mosquitto take it
    RSA = "rsa"  # RSA 3072: for old devices that speak no ECDSA


def new_key(kind: KeyType) -> CertificateIssuerPrivateKeyTypes:
    if kind is KeyType.RSA:
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class Issued:
    name: str
    cert_path: Path
    key_path: Path
    cert: x509.Certificate


def _write_key(path: Path, key: CertificateIssuerPrivateKeyTypes) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    tmp.replace(path)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tmp.chmod(0o644)
    tmp.replace(path)


def _check_name(name: str) -> str:
    if not name or "/" in name or name.startswith(".") or name != name.strip():
        raise CertError(f"{name!r} cannot name a certificate file: use an id like node-gongye-1 or broker")
    return name


def _free(directory: Path, name: str, force: bool) -> tuple[Path, Path]:
    crt, key = directory / f"{name}.crt", directory / f"{name}.key"
    if not force and (crt.exists() or key.exists()):
        raise CertError(f"{crt} already exists; pass --force to replace it (and its key)")
    return crt, key


class CertificateAuthority:
    """The site CA in ``directory``."""

    def __init__(
        self, directory: Path, cert: x509.Certificate, key: CertificateIssuerPrivateKeyTypes
    ) -> None:
        self.directory = directory
        self.cert = cert
        self.key = key

    @property
    def cert_path(self) -> Path:
        return self.directory / f"{CA_NAME}.crt"

    @classmethod
    def create(
        cls,
        directory: Path,
        common_name: str,
        kind: KeyType = KeyType.EC,
        days: int = CA_DAYS,
        force: bool = False,
    ) -> CertificateAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        crt, key_path = _free(directory, CA_NAME, force)
        key = new_key(kind)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))  # tolerate a client clock slightly behind
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_key(key_path, key)
        _write_cert(crt, cert)
        return cls(directory, cert, key)

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        crt, key_path = directory / f"{CA_NAME}.crt", directory / f"{CA_NAME}.key"
        if not crt.is_file() or not key_path.is_file():
            raise CertError(
                f"no site CA in {directory} (ca.crt and ca.key); make one with 'gridwatch certs ca'"
            )
        cert = x509.load_pem_x509_certificate(crt.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise CertError(f"{key_path}: not an EC or RSA key")
        return cls(directory, cert, key)

    def _issue(
        self,
        name: str,
        common_name: str,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName],
        kind: KeyType,
        days: int,
        force: bool,
    ) -> Issued:
        crt, key_path = _free(self.directory, _check_name(name), force)
        key = new_key(kind)
        now = datetime.now(UTC)
        not_after = min(now + timedelta(days=days), self.cert.not_valid_after_utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    ]
                )
            )
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                    key_agreement=False,
                    content_commitment=False,
                    data_encipherment=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        _write_key(key_path, key)
        _write_cert(crt, cert)
        return Issued(name, crt, key_path, cert)

    def server(
        self,
        name: str,
        hosts: list[str],
        kind: KeyType = KeyType.EC,
        days: int = LEAF_DAYS,
        force: bool = False,
    ) -> Issued:
        """A server certificate (the broker, the API) valid for each host name or IP address."""
        if not hosts:
            raise CertError("a server certificate needs the names clients connect to: --host NAME_OR_IP")
        return self._issue(name, hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, _sans(hosts), kind, days, force)

    def client(
        self, client_id: str, kind: KeyType = KeyType.EC, days: int = LEAF_DAYS, force: bool = False
    ) -> Issued:
        """A client certificate whose CN is the client id (node or gateway id)."""
        return self._issue(client_id, client_id, ExtendedKeyUsageOID.CLIENT_AUTH, [], kind, days, force)


def _sans(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if not host or " " in host:
                raise CertError(f"{host!r} is neither a host name nor an IP address") from None
            names.append(x509.DNSName(host))
    return names


@dataclass(frozen=True)
class CertInfo:
    path: Path
    subject: str
    issuer: str
    not_after: datetime
    names: list[str]
    usage: str

    def days_left(self, now: datetime) -> int:
        return (self.not_after - now).days


def describe(path: Path) -> CertInfo:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n.value) for n in sans]
    except x509.ExtensionNotFound:
        names = []
    try:
        ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        ca = False
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        usage = "server" if ExtendedKeyUsageOID.SERVER_AUTH in eku else "client"
    except x509.ExtensionNotFound:
        usage = "ca" if ca else "?"
    if ca:
        usage = "ca"
    return CertInfo(
        path,
        cert.subject.rfc4514_string(),
        cert.issuer.rfc4514_string(),
        cert.not_valid_after_utc,
        names,
        usage,
    )


def mosquitto_listener(
    port: int, ca: Path, cert: Path, key: Path, host: str = "", require_certificate: bool = True
) -> str:
    """A Mosquitto TLS listener for these files: clients must show a certificate of the CA (unless
    ``require_certificate`` is off), and its CN (the node or gateway id) is their ACL username."""
    lines = [
        f"listener {port}{f' {host}' if host else ''}",
        f"cafile {ca}",
        f"certfile {cert}",
        f"keyfile {key}",
        "tls_version tlsv1.2",
    ]
    if require_certificate:
        lines += ["require_certificate true", "use_identity_as_username true"]
    return "\n".join(lines) + "\n"
