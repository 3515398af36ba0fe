"""The tests' broker's secure listeners, and their certificates, made fresh by each test run
(``cryptography``): a CA, a broker certificate for 127.0.0.1 signed by it, a client
certificate signed by it (its key encrypted with a password), and a second, unrelated CA with
a client certificate of its own, which the broker must refuse and whose CA the clients must
not trust. The run's one broker listens with them (tests/conftest.py), so the security tests
need no broker of their own."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from streams.local.kafka import BrokerSecurity, BrokerSpec, free_port


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


@dataclass(frozen=True)
class SecureListeners:
    """How a test reaches a broker's secure listeners (tests/integration/test_security.py):
    SASL_SSL with a SCRAM-SHA-512 user and a PLAIN user, and SSL requiring a client
    certificate. Saved to a file (passwords included, mode 0600) for the xdist workers."""

    sasl_ssl_bootstrap: str
    ssl_bootstrap: str
    certs: Certificates
    scram: tuple[str, str]  # (user, password)
    plain: tuple[str, str]
    broker_log: Path

    @property
    def secrets(self) -> list[str]:
        return [self.scram[1], self.plain[1], self.certs.client_key_password]

    def env(self, mode: str, **override: str) -> dict[str, str]:
        """LEADSCORE_* variables for a client: mode scram, plain or mtls."""
        if mode == "mtls":
            env = {"LEADSCORE_KAFKA_BOOTSTRAP": self.ssl_bootstrap,
                   "LEADSCORE_KAFKA_SECURITY_PROTOCOL": "SSL",
                   "LEADSCORE_KAFKA_SSL_CA_FILE": str(self.certs.ca),
                   "LEADSCORE_KAFKA_SSL_CERT_FILE": str(self.certs.client_cert),
                   "LEADSCORE_KAFKA_SSL_KEY_FILE": str(self.certs.client_key),
                   "LEADSCORE_KAFKA_SSL_KEY_PASSWORD": self.certs.client_key_password}
        else:
            user, password = self.scram if mode == "scram" else self.plain
            env = {"LEADSCORE_KAFKA_BOOTSTRAP": self.sasl_ssl_bootstrap,
                   "LEADSCORE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                   "LEADSCORE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512" if mode == "scram"
                   else "PLAIN",
                   "LEADSCORE_KAFKA_SASL_USERNAME": user,
                   "LEADSCORE_KAFKA_SASL_PASSWORD": password,
                   "LEADSCORE_KAFKA_SSL_CA_FILE": str(self.certs.ca)}
        return {**env, **override}

    def save(self, path: Path) -> None:
        data = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
        data["certs"] = {k: str(v) for k, v in asdict(self.certs).items()}
        path.write_text(json.dumps(data))
        path.chmod(0o600)

    @classmethod
    def load(cls, path: Path) -> SecureListeners:
        data = json.loads(path.read_text())
        certs = data.pop("certs")
        password = certs.pop("client_key_password")
        return cls(
            sasl_ssl_bootstrap=data["sasl_ssl_bootstrap"], ssl_bootstrap=data["ssl_bootstrap"],
            certs=Certificates(client_key_password=password,
                               **{k: Path(v) for k, v in certs.items()}),
            scram=tuple(data["scram"]), plain=tuple(data["plain"]),
            broker_log=Path(data["broker_log"]))


def secured(spec: BrokerSpec) -> tuple[BrokerSpec, SecureListeners]:
    """``spec`` with SASL_SSL and client-certificate SSL listeners on free ports, certificates
    made in its state folder and fresh passwords (so finding one in a log can only mean a
    leak): what the tests' broker runs, beside its PLAINTEXT listener."""
    run = uuid.uuid4().hex[:10]
    certs = make_certificates(spec.state_dir / "certs", f"keypw-{run}")
    scram, plain = ("alice", f"alice-pw-{run}"), ("bob", f"bob-pw-{run}")
    security = BrokerSecurity(sasl_ssl_port=free_port(), ssl_port=free_port(),
                              keystore=certs.broker_keystore, truststore=certs.ca,
                              scram_users=(scram,), plain_users=(plain,))
    info = SecureListeners(security.sasl_ssl_bootstrap, security.ssl_bootstrap, certs, scram,
                           plain, spec.log_file)
    return replace(spec, security=security), info
