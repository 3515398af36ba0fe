"""streams/kafkaconfig.py: the same settings give the same connection to both client libraries,
secrets stay secret, and half a security configuration is refused with the variables to set."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from streams import kafkaconfig
from streams.settings import Settings, describe_invalid
from tests.tls import Certificates, make_certificates

PASSWORD = "pw-Zq81-never-shown"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"), "key-pw-Xy77")


def _sasl(certs: Certificates, mechanism: str = "SCRAM-SHA-512") -> Settings:
    return Settings(kafka_bootstrap="b1:9096,b2:9096", kafka_security_protocol="SASL_SSL",
                    kafka_sasl_mechanism=mechanism, kafka_sasl_username="alice",
                    kafka_sasl_password=PASSWORD, kafka_ssl_ca_file=certs.ca)


def _mtls(certs: Certificates) -> Settings:
    return Settings(kafka_bootstrap="b1:9094", kafka_security_protocol="SSL",
                    kafka_ssl_ca_file=certs.ca, kafka_ssl_cert_file=certs.client_cert,
                    kafka_ssl_key_file=certs.client_key,
                    kafka_ssl_key_password=certs.client_key_password)


def test_plaintext_is_only_the_brokers() -> None:
    s = Settings(kafka_bootstrap="h:1")
    assert kafkaconfig.client_config(s) == {"bootstrap.servers": "h:1",
                                            "security.protocol": "PLAINTEXT"}
    assert kafkaconfig.faust_options(s) == {"broker": ["kafka://h:1"]}


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "PLAIN", "SCRAM-SHA-256"])
def test_sasl_ssl_gives_both_libraries_the_same_credentials(certs: Certificates,
                                                             mechanism: str) -> None:
    s = _sasl(certs, mechanism)
    rd = kafkaconfig.client_config(s)
    assert rd == {"bootstrap.servers": "b1:9096,b2:9096", "security.protocol": "SASL_SSL",
                  "sasl.mechanism": mechanism, "sasl.username": "alice",
                  "sasl.password": PASSWORD, "ssl.ca.location": str(certs.ca),
                  "ssl.endpoint.identification.algorithm": "https"}
    opts = kafkaconfig.faust_options(s)
    assert opts["broker"] == ["kafka://b1:9096", "kafka://b2:9096"]
    # What Faust hands to every aiokafka client it makes.
    aio = credentials_to_aiokafka_auth(opts["broker_credentials"])
    assert aio["security_protocol"] == rd["security.protocol"]
    assert aio["sasl_mechanism"] == rd["sasl.mechanism"]
    assert aio["sasl_plain_username"] == rd["sasl.username"]
    assert aio["sasl_plain_password"] == rd["sasl.password"]
    ctx = aio["ssl_context"]
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    # The CA file is loaded: the context trusts exactly the test CA.
    assert [c["subject"] for c in ctx.get_ca_certs()] == [((("commonName",
                                                              "leadscore test CA"),),)]
    assert PASSWORD not in repr(opts["broker_credentials"])


def test_mutual_tls_gives_both_libraries_the_client_certificate(certs: Certificates) -> None:
    s = _mtls(certs)
    rd = kafkaconfig.client_config(s)
    assert rd == {"bootstrap.servers": "b1:9094", "security.protocol": "SSL",
                  "ssl.endpoint.identification.algorithm": "https",
                  "ssl.ca.location": str(certs.ca),
                  "ssl.certificate.location": str(certs.client_cert),
                  "ssl.key.location": str(certs.client_key),
                  "ssl.key.password": certs.client_key_password}
    aio = credentials_to_aiokafka_auth(kafkaconfig.faust_options(s)["broker_credentials"])
    assert aio["security_protocol"] == "SSL"
    assert aio["ssl_context"].check_hostname


def test_a_wrong_key_password_is_one_line_without_the_password(certs: Certificates) -> None:
    s = Settings(kafka_bootstrap="127.0.0.1:1", kafka_security_protocol="SSL",
                 kafka_ssl_cert_file=certs.client_cert, kafka_ssl_key_file=certs.client_key,
                 kafka_ssl_key_password=PASSWORD)  # not the key's password
    with pytest.raises(kafkaconfig.KafkaUnavailable) as exc:
        kafkaconfig.ssl_context(s)
    assert "cannot load the TLS files" in str(exc.value)
    assert PASSWORD not in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(kafkaconfig.KafkaUnavailable) as exc:
        kafkaconfig.wait_for_brokers(s, timeout=1)
    assert "refused its configuration" in str(exc.value) and PASSWORD not in str(exc.value)


def test_secrets_never_show_in_the_settings_repr(certs: Certificates) -> None:
    for s in (_sasl(certs), _mtls(certs)):
        for shown in (repr(s), str(s), str(s.model_dump())):
            assert PASSWORD not in shown and certs.client_key_password not in shown


def test_redact_replaces_every_secret(certs: Certificates) -> None:
    s = _sasl(certs)
    assert kafkaconfig.redact(f"user alice password {PASSWORD}!", s) == \
        "user alice password ***!"


def test_a_local_broker_drops_the_security_settings(certs: Certificates) -> None:
    s = kafkaconfig.plaintext(_sasl(certs), "127.0.0.1:9092")
    assert kafkaconfig.client_config(s) == {"bootstrap.servers": "127.0.0.1:9092",
                                            "security.protocol": "PLAINTEXT"}
    env = {"LEADSCORE_KAFKA_SASL_PASSWORD": "x", "LEADSCORE_KAFKA_SECURITY_PROTOCOL": "SSL",
           "LEADSCORE_APP_ID": "a", "PATH": "/bin"}
    assert kafkaconfig.without_security(env) == {"LEADSCORE_APP_ID": "a", "PATH": "/bin"}
    names = {f"LEADSCORE_{n.upper()}" for n in Settings.model_fields if n.startswith("kafka_s")}
    assert set(kafkaconfig.SECURITY_VARIABLES) == names


# --------------------------------------------------------------------------- validation


def _invalid(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    for k in list(Settings.model_fields):
        monkeypatch.delenv(f"LEADSCORE_{k.upper()}", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValidationError) as exc:
        Settings()
    return describe_invalid(exc.value)


@pytest.mark.parametrize(("env", "expected"), [
    ({"LEADSCORE_KAFKA_PORT": "abc"},
     "LEADSCORE_KAFKA_PORT='abc': Input should be a valid integer"),
    ({"LEADSCORE_WEB_PORT": "70000"}, "LEADSCORE_WEB_PORT='70000': Input should be less than"),
    ({"LEADSCORE_TOPIC_PARTITIONS": "0"}, "LEADSCORE_TOPIC_PARTITIONS='0'"),
    ({"LEADSCORE_KAFKA_SECURITY_PROTOCOL": "tls"},
     "LEADSCORE_KAFKA_SECURITY_PROTOCOL='TLS': Input should be 'PLAINTEXT', 'SSL' or "
     "'SASL_SSL'"),
    ({"LEADSCORE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "LEADSCORE_KAFKA_SASL_USERNAME": "u"},
     "LEADSCORE_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs LEADSCORE_KAFKA_SASL_MECHANISM and "
     "LEADSCORE_KAFKA_SASL_PASSWORD"),
    ({"LEADSCORE_KAFKA_SASL_PASSWORD": PASSWORD},
     "LEADSCORE_KAFKA_SASL_PASSWORD set, but LEADSCORE_KAFKA_SECURITY_PROTOCOL is PLAINTEXT"),
    ({"LEADSCORE_KAFKA_SECURITY_PROTOCOL": "SSL",
      "LEADSCORE_KAFKA_SSL_CA_FILE": "/no/such/ca.pem"},
     "LEADSCORE_KAFKA_SSL_CA_FILE='/no/such/ca.pem': Path does not point to a file"),
    ({"LEADSCORE_KAFKA_SSL_CA_FILE": "/etc/hostname"},
     "LEADSCORE_KAFKA_SSL_CA_FILE set, but LEADSCORE_KAFKA_SECURITY_PROTOCOL is PLAINTEXT"),
    ({"LEADSCORE_KAFKA_SECURITY_PROTOCOL": "SSL", "LEADSCORE_KAFKA_SSL_CERT_FILE":
      "/etc/hostname"}, "LEADSCORE_KAFKA_SSL_CERT_FILE and LEADSCORE_KAFKA_SSL_KEY_FILE go "
     "together"),
    ({"LEADSCORE_KAFKA_CONNECT_TIMEOUT": "-1"}, "LEADSCORE_KAFKA_CONNECT_TIMEOUT='-1'"),
    ({"LEADSCORE_API_ALLOW_UNAUTHENTICATED": "perhaps"},
     "LEADSCORE_API_ALLOW_UNAUTHENTICATED='perhaps': Input should be a valid boolean"),
], ids=lambda v: "-".join(v) if isinstance(v, dict) else None)
def test_a_bad_variable_is_one_line_that_names_it(env: dict[str, str], expected: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    line = _invalid(env, monkeypatch)
    assert line.startswith("invalid settings: ") and expected in line, line
    assert "\n" not in line and PASSWORD not in line


def test_an_invalid_secret_is_named_but_never_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    # A secret that fails a type check (a dict is not a string) still is not echoed.
    from pydantic import SecretStr

    with pytest.raises(ValidationError) as exc:
        Settings(kafka_sasl_password={"x": PASSWORD})  # type: ignore[arg-type]
    line = describe_invalid(exc.value)
    assert "LEADSCORE_KAFKA_SASL_PASSWORD: " in line and PASSWORD not in line
    assert isinstance(Settings(api_token="t").api_token, SecretStr)


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_API_TOKEN", "")
    monkeypatch.setenv("LEADSCORE_KAFKA_SSL_CA_FILE", "")
    s = Settings()
    assert s.api_token is None and s.kafka_ssl_ca_file is None


def test_every_security_setting_is_documented_with_its_variable() -> None:
    for name in (*kafkaconfig.SECURITY_VARIABLES, "LEADSCORE_KAFKA_CONNECT_TIMEOUT",
                 "LEADSCORE_API_ALLOW_UNAUTHENTICATED"):
        field = Settings.model_fields[name.removeprefix("LEADSCORE_").lower()]
        assert field.description and f"Env: {name}." in field.description
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in (*kafkaconfig.SECURITY_VARIABLES, "LEADSCORE_API_ALLOW_UNAUTHENTICATED"):
        assert name in readme, name


def test_log_records_holding_a_secret_are_rewritten(certs: Certificates,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    import logging

    odd = "p\\w-é-" + PASSWORD  # a backslash and a non-ASCII letter change its repr
    s = _sasl(certs).model_copy(update={"kafka_sasl_password": Settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="bob", kafka_sasl_password=odd).kafka_sasl_password})
    before = logging.getLogRecordFactory()
    try:
        kafkaconfig.redact_logs(s)
        log = logging.getLogger("aiokafka.conn")
        with caplog.at_level(logging.DEBUG, logger="aiokafka.conn"):
            # What aiokafka logs at debug level for a SASL PLAIN authentication.
            log.debug("Request to %s: %s", "b1:9096",
                      f"SaslAuthenticateRequest_v1(sasl_auth_bytes="
                      f"{b'bob' + bytes(1) + b'bob' + bytes(1) + odd.encode()!r})")
            log.debug("password %s and %r", odd, odd)
            log.info("Authenticated as %s via %s", "bob", "PLAIN")
    finally:
        logging.setLogRecordFactory(before)
    text = caplog.text
    assert "Authenticated as bob via PLAIN" in text
    assert PASSWORD not in text and text.count("***") == 3, text
