"""Kafka client configuration from settings: the one module that turns ``LEADSCORE_KAFKA_*``
into what each client library wants, and the check every command makes before it talks to
Kafka.

Why one module: the project speaks to Kafka through two libraries, confluent-kafka
(librdkafka: the CLI's producers, admin clients and readers, the worker's changelog set-up,
the bench) and aiokafka (inside Faust: the worker's consumer and producer). Each spells
security differently (``sasl.username`` against ``sasl_plain_username``, file paths against an
``ssl.SSLContext``). Building both from the same settings here is what makes "the worker
connects" and "``leadscore produce`` connects" the same statement; every Kafka client in
``streams/`` takes its configuration from :func:`client_config` or :func:`faust_options`.

Secrets (``LEADSCORE_KAFKA_SASL_PASSWORD``, ``LEADSCORE_KAFKA_SSL_KEY_PASSWORD``) stay
:class:`~pydantic.SecretStr` in the settings and are unwrapped only into the client
configuration built here, which is never logged; error messages pass through :func:`redact`,
and the worker's log records through :func:`redact_logs`.

Why :func:`wait_for_brokers`: without it a command facing no broker printed hundreds of
librdkafka "Connection refused" lines, or nothing for a minute, and then a traceback. Every
command that needs Kafka calls it first: it returns once a broker answers a metadata request,
stops at once on an authentication or TLS failure (waiting cannot fix those), and otherwise
gives up after ``LEADSCORE_KAFKA_CONNECT_TIMEOUT`` seconds; each failure is one line
(:class:`KafkaUnavailable`) that names the settings to look at.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from streams.settings import Settings

# Variables a broker started on loopback by the demo or the bench must not inherit: that
# broker speaks PLAINTEXT whatever the environment says about the operator's own cluster.
SECURITY_VARIABLES = (
    "LEADSCORE_KAFKA_SECURITY_PROTOCOL", "LEADSCORE_KAFKA_SASL_MECHANISM",
    "LEADSCORE_KAFKA_SASL_USERNAME", "LEADSCORE_KAFKA_SASL_PASSWORD",
    "LEADSCORE_KAFKA_SSL_CA_FILE", "LEADSCORE_KAFKA_SSL_CERT_FILE",
    "LEADSCORE_KAFKA_SSL_KEY_FILE", "LEADSCORE_KAFKA_SSL_KEY_PASSWORD",
)


class KafkaUnavailable(Exception):
    """The brokers cannot be used (none answers, credentials refused, TLS failed): a problem
    the operator fixes in the settings or the cluster. Its message is one line."""


def client_config(s: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """librdkafka (confluent-kafka) configuration: the brokers and how to reach them. Callers
    add their own client options (group id, acks, log level) to a copy."""
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap or s.kafka_bootstrap,
                            "security.protocol": s.kafka_security_protocol}
    if s.kafka_security_protocol == "SASL_SSL":
        assert s.kafka_sasl_password is not None  # Settings checks SASL_SSL is complete
        conf.update({"sasl.mechanism": s.kafka_sasl_mechanism,
                     "sasl.username": s.kafka_sasl_username,
                     "sasl.password": s.kafka_sasl_password.get_secret_value()})
    if s.kafka_security_protocol != "PLAINTEXT":
        # The broker's host name is checked against its certificate (librdkafka's default
        # since 2.0, said here so that no version can differ), as aiokafka does below.
        conf["ssl.endpoint.identification.algorithm"] = "https"
        if s.kafka_ssl_ca_file is not None:
            conf["ssl.ca.location"] = str(s.kafka_ssl_ca_file)
        if s.kafka_ssl_cert_file is not None:
            conf["ssl.certificate.location"] = str(s.kafka_ssl_cert_file)
            conf["ssl.key.location"] = str(s.kafka_ssl_key_file)
        if s.kafka_ssl_key_password is not None:
            conf["ssl.key.password"] = s.kafka_ssl_key_password.get_secret_value()
    return conf


def broker_urls(bootstrap: str) -> list[str]:
    """'h1:9092,h2:9092' -> ['kafka://h1:9092', 'kafka://h2:9092'] (Faust's URL form)."""
    return [f"kafka://{hp.strip()}" for hp in bootstrap.split(",") if hp.strip()]


def ssl_context(s: Settings) -> Any:
    """The TLS context aiokafka uses: the CA file (or the system's CAs), the client certificate
    and key for mutual TLS; host names checked. None for PLAINTEXT."""
    if s.kafka_security_protocol == "PLAINTEXT":
        return None
    import ssl

    from aiokafka.helpers import create_ssl_context

    password = s.kafka_ssl_key_password
    try:
        return create_ssl_context(
            cafile=str(s.kafka_ssl_ca_file) if s.kafka_ssl_ca_file else None,
            certfile=str(s.kafka_ssl_cert_file) if s.kafka_ssl_cert_file else None,
            keyfile=str(s.kafka_ssl_key_file) if s.kafka_ssl_key_file else None,
            password=password.get_secret_value() if password is not None else None,
        )
    except (ssl.SSLError, OSError) as exc:  # a file that is not PEM, a wrong key password
        raise KafkaUnavailable(redact(
            f"cannot load the TLS files: {exc} (LEADSCORE_KAFKA_SSL_CA_FILE, "
            "LEADSCORE_KAFKA_SSL_CERT_FILE, LEADSCORE_KAFKA_SSL_KEY_FILE, "
            "LEADSCORE_KAFKA_SSL_KEY_PASSWORD)", s)) from None


def faust_options(s: Settings) -> dict[str, Any]:
    """The ``faust.App`` keyword arguments that say where the brokers are and how to reach
    them: ``broker`` and, unless PLAINTEXT, ``broker_credentials`` (Faust hands them to every
    aiokafka client it makes: consumer, producer and the one that creates topics)."""
    import faust

    opts: dict[str, Any] = {"broker": broker_urls(s.kafka_bootstrap)}
    context = ssl_context(s)
    if s.kafka_security_protocol == "SASL_SSL":
        assert s.kafka_sasl_password is not None
        opts["broker_credentials"] = faust.SASLCredentials(
            username=s.kafka_sasl_username, password=s.kafka_sasl_password.get_secret_value(),
            mechanism=s.kafka_sasl_mechanism, ssl_context=context)
    elif s.kafka_security_protocol == "SSL":
        opts["broker_credentials"] = faust.SSLCredentials(context)
    return opts


def without_security(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the security variables: for a worker of a PLAINTEXT loopback broker
    that the demo or the bench started themselves."""
    return {k: v for k, v in env.items() if k not in SECURITY_VARIABLES}


def plaintext(s: Settings, bootstrap: str) -> Settings:
    """``s`` pointed at a PLAINTEXT broker (a local one the demo or the bench started)."""
    cleared: dict[str, Any] = {name.removeprefix("LEADSCORE_").lower(): None
                               for name in SECURITY_VARIABLES}
    cleared["kafka_security_protocol"] = "PLAINTEXT"
    return s.model_copy(update={**cleared, "kafka_bootstrap": bootstrap})


def _secret_forms(s: Settings) -> list[str]:
    """Each secret as it may appear in text: itself, and inside the repr of a str or bytes
    (aiokafka's debug log prints requests, and so a SASL PLAIN request's bytes)."""
    forms: set[str] = set()
    for secret in (s.kafka_sasl_password, s.kafka_ssl_key_password, s.api_token):
        value = secret.get_secret_value() if secret is not None else ""
        if value:
            forms.update({value, repr(value)[1:-1], repr(value.encode())[2:-1]})
    return sorted(forms, key=len, reverse=True)


def redact(text: str, s: Settings) -> str:
    """``text`` with every secret of ``s`` replaced by ``***``."""
    for form in _secret_forms(s):
        text = text.replace(form, "***")
    return text


def redact_logs(s: Settings) -> None:
    """From now on, every log record of this process that holds a secret of ``s`` is
    rewritten with ``***`` in its place. Needed, not cautious: aiokafka logs each request at
    debug level, and a SASL PLAIN authentication request carries the password
    (``SaslAuthenticateRequest_v1(sasl_auth_bytes=b'user\\x00user\\x00PASSWORD')``), so
    LEADSCORE_LOG_LEVEL=debug printed it (found by tests/integration/test_security.py). A
    record factory sees every record of every logger, whichever handlers Faust installs."""
    forms = _secret_forms(s)
    if not forms:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's to report
            return record
        if any(form in text for form in forms):
            for form in forms:
                text = text.replace(form, "***")
            record.msg, record.args = text, ()
        return record

    logging.setLogRecordFactory(factory)


# --------------------------------------------------------------------------- reachability

_AUTH_CODES = ("_AUTHENTICATION", "SASL_AUTHENTICATION_FAILED")


def _reason(err: Any) -> str:
    """librdkafka's error text without the broker prefix and the timing suffix:
    '127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms
    in state CONNECT)' -> 'Connect to ipv4#127.0.0.1:1 failed: Connection refused'."""
    text = err.str() if hasattr(err, "str") else str(err)
    text = re.sub(r"^\S+/(?:bootstrap|\d+): ", "", text)
    text = re.sub(r"\s*\(after \d+ms in state \w+(?:, \d+ identical error\(s\) suppressed)?\)",
                  "", text)
    return text.strip()


def _is_tls_failure(code: str, reason: str) -> bool:
    return code == "_SSL" or "SSL handshake failed" in reason or "certificate" in reason.lower()


def _classify(errors: list[Any], s: Settings, servers: str) -> str | None:
    """A one-line message for an error that waiting will not cure, else None."""
    for err in errors:
        code, reason = err.name(), _reason(err)
        if code in _AUTH_CODES or "authentication" in reason.lower():
            return (f"Kafka at {servers} refused the {s.kafka_sasl_mechanism or 'SASL'} "
                    f"credentials of user {s.kafka_sasl_username!r}: {reason} "
                    "(LEADSCORE_KAFKA_SASL_USERNAME, LEADSCORE_KAFKA_SASL_PASSWORD)")
        if _is_tls_failure(code, reason):
            return (f"TLS handshake with Kafka at {servers} failed: {reason} "
                    "(LEADSCORE_KAFKA_SSL_CA_FILE, LEADSCORE_KAFKA_SSL_CERT_FILE, "
                    "LEADSCORE_KAFKA_SSL_KEY_FILE)")
    return None


def wait_for_brokers(s: Settings, bootstrap: str | None = None, timeout: float | None = None,
                     named: str = "LEADSCORE_KAFKA_BOOTSTRAP") -> None:
    """Return once a broker at ``bootstrap`` (default LEADSCORE_KAFKA_BOOTSTRAP) answers a
    metadata request with these settings' security; raise :class:`KafkaUnavailable` with one
    line at once on refused credentials or a failed TLS handshake, and after ``timeout``
    seconds (default LEADSCORE_KAFKA_CONNECT_TIMEOUT) if no broker answers. ``named`` is where
    the operator gave the brokers, for the message. librdkafka's own log lines are silenced
    here: its errors are collected and summarised instead."""
    from confluent_kafka import KafkaException, Producer

    servers = bootstrap or s.kafka_bootstrap
    limit = s.kafka_connect_timeout if timeout is None else timeout
    errors: list[Any] = []  # from librdkafka's error callback: the informative ones
    try:
        producer = Producer({**client_config(s, servers), "log_level": 0,
                             "error_cb": errors.append, "reconnect.backoff.max.ms": 1000})
    except KafkaException as exc:  # e.g. a key file that does not open with its password
        raise KafkaUnavailable(redact(
            f"the Kafka client refused its configuration: {_reason(exc.args[0])} "
            "(LEADSCORE_KAFKA_SSL_*, LEADSCORE_KAFKA_SASL_*)", s)) from None
    deadline = time.monotonic() + limit
    failed: Any = None  # list_topics' own error: only "Failed to get metadata"
    while True:
        left = deadline - time.monotonic()
        try:
            if producer.list_topics(timeout=max(0.2, min(1.0, left))).brokers:
                return
        except KafkaException as exc:
            failed = exc.args[0]
        producer.poll(0)  # serves error_cb
        fatal = _classify(errors, s, servers)
        if fatal:
            raise KafkaUnavailable(redact(fatal, s))
        if time.monotonic() >= deadline:
            told = [e for e in errors if e.name() not in ("_TIMED_OUT", "_ALL_BROKERS_DOWN")]
            last = _reason(told[-1]) if told else (_reason(failed) if failed else None)
            protocol = s.kafka_security_protocol
            raise KafkaUnavailable(redact(
                f"no Kafka broker answers at {servers} after {limit:g} s "
                f"({named}, LEADSCORE_KAFKA_SECURITY_PROTOCOL={protocol}"
                + (f"; last error: {last}" if last else "") + ")", s))
