"""Certificates for the security tests, made fresh by each test session (``cryptography``):
a CA, a broker certificate for 127.0.0.1 signed by it, a client certificate signed by it (its
key encrypted with a password), and a second, unrelated CA with a client certificate of its
own, which the broker must refuse and whose CA the clients must not trust."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Certificates:
    ca: Path  # PEM: the CA that signed the broker's and the client's certificates
    broker_keystore: Path  # PEM: broker key (PKCS#8, unencrypted) + certificate, for Kafka
    client_cert: Path
    client_key: Path  # encrypted with client_key_password
    client_key_password: str
    rogue_ca: Path  # a CA nobody trusts
    rogue_client_cert: Path  # signed by rogue_ca
    rogue_client_key: Path  # not encrypted


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _leaf(cn: str, ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
          server: bool) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key, ca_cert = ca
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(cn))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1))
               .not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(
                   [ExtendedKeyUsageOID.SERVER_AUTH if server
                    else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey, password: str | None = None) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password
        else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def make_certificates(folder: Path, client_key_password: str) -> Certificates:
    folder.mkdir(parents=True, exist_ok=True)
    ca = _ca("leadscore test CA")
    rogue = _ca("someone else's CA")
    broker_key, broker_cert = _leaf("127.0.0.1", ca, server=True)
    client_key, client_cert = _leaf("leadscore-worker", ca, server=False)
    rogue_key, rogue_cert = _leaf("leadscore-worker", rogue, server=False)
    files = {
        "ca.pem": _pem(ca[1]),
        "broker-keystore.pem": _key_pem(broker_key) + _pem(broker_cert),
        "client.pem": _pem(client_cert),
        "client.key": _key_pem(client_key, client_key_password),
        "rogue-ca.pem": _pem(rogue[1]),
        "rogue-client.pem": _pem(rogue_cert),
        "rogue-client.key": _key_pem(rogue_key),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
        (folder / name).chmod(0o600)
    return Certificates(
        ca=folder / "ca.pem", broker_keystore=folder / "broker-keystore.pem",
        client_cert=folder / "client.pem", client_key=folder / "client.key",
        client_key_password=client_key_password, rogue_ca=folder / "rogue-ca.pem",
        rogue_client_cert=folder / "rogue-client.pem",
        rogue_client_key=folder / "rogue-client.key")
