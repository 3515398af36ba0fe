"""Pure pieces of the foundation: settings from the environment, broker URLs, config rendering."""

from __future__ import annotations

import pytest

from streams.local import kafka as localkafka
from streams.settings import Settings


def test_settings_read_documented_environment_variables(monkeypatch):
    monkeypatch.setenv("LEADSCORE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    monkeypatch.setenv("LEADSCORE_TOPIC_PARTITIONS", "8")
    s = Settings()
    assert s.kafka_bootstrap == "127.0.0.1:19092"
    assert s.topic_partitions == 8


def test_every_setting_names_its_environment_variable():
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert f"LEADSCORE_{name.upper()}" in field.description, name


def test_broker_urls_accepts_a_comma_separated_list():
    from streams.kafkaconfig import broker_urls

    assert broker_urls("a:1, b:2") == ["kafka://a:1", "kafka://b:2"]


def test_rendered_broker_config_lowers_internal_topics_to_one_replica(tmp_path):
    spec = localkafka.BrokerSpec(port=19092, controller_port=19093, state_dir=tmp_path,
                                 cache_dir=tmp_path)
    localkafka._render_config(spec)
    conf = dict(line.split("=", 1) for line in spec.config_file.read_text().splitlines()
                if line and not line.startswith("#"))
    assert conf["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr", "min.insync.replicas"):
        assert conf[key] == "1", key
    assert conf["log.dirs"] == str(tmp_path / "data")


def test_rendered_broker_config_with_security_listeners(tmp_path):
    sec = localkafka.BrokerSecurity(sasl_ssl_port=19094, ssl_port=19095,
                                    keystore=tmp_path / "ks.pem", truststore=tmp_path / "ca.pem",
                                    scram_users=(("alice", "a-pw"),),
                                    plain_users=(("bob", "b-pw"),))
    spec = localkafka.BrokerSpec(port=19092, controller_port=19093, state_dir=tmp_path,
                                 cache_dir=tmp_path, security=sec)
    localkafka._render_config(spec)
    conf = dict(line.split("=", 1) for line in spec.config_file.read_text().splitlines()
                if line and not line.startswith("#"))
    assert conf["listeners"] == ("PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,"
                                 "SASL_SSL://127.0.0.1:19094,SSL://127.0.0.1:19095")
    assert conf["advertised.listeners"] == ("PLAINTEXT://127.0.0.1:19092,"
                                            "SASL_SSL://127.0.0.1:19094,SSL://127.0.0.1:19095")
    assert conf["listener.security.protocol.map"].endswith(",SASL_SSL:SASL_SSL,SSL:SSL")
    assert conf["listener.name.ssl.ssl.client.auth"] == "required"
    assert 'user_bob="b-pw"' in conf["listener.name.sasl_ssl.plain.sasl.jaas.config"]
    assert sec.format_arguments() == ["--add-scram", "SCRAM-SHA-512=[name=alice,password=a-pw]"]
    with pytest.raises(localkafka.KafkaSetupError):
        localkafka.BrokerSecurity(1, 2, tmp_path, tmp_path, plain_users=(("bob", 'x" y'),))


def test_listening_ports_come_from_outside_the_ephemeral_range():
    # So a broker stopped for an outage can bind the same ports again: no client's outgoing
    # connection can have been given one of them in the meantime.
    low, high = localkafka._ephemeral_range()
    ports = {localkafka.free_port() for _ in range(50)}
    assert all(not low <= p <= high for p in ports)
    assert len(ports) > 40
