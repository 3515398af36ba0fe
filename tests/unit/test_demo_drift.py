"""``leadscore demo --drift``: the shifted behaviour it sends moves the pricing features and the
score away from the model's reference, as ``leadscore drift`` (the worker's own figures,
offline) shows; unshifted traffic of the same generator stays close."""

from __future__ import annotations

import orjson
import pytest

from streams.cli import main
from streams.commands.demo import drifted


def test_drifted_turns_half_the_other_page_views_into_pricing_views() -> None:
    views = [orjson.dumps({"event_id": f"e{i}", "type": "page_view",
                           "properties": {"url": "https://acme.io/blog/x", "path": "/blog/x",
                                          "page_category": "blog"}}) for i in range(400)]
    out = [orjson.loads(drifted(v)) for v in views]
    moved = [o for o in out if o["properties"]["page_category"] == "pricing"]
    assert 120 < len(moved) < 280
    assert all(o["properties"]["url"] == "https://acme.io/pricing" for o in moved)
    other = orjson.dumps({"event_id": "x", "type": "email_open", "properties": {}})
    assert drifted(other) == other and drifted(b"not json") == b"not json"


@pytest.fixture(scope="module")
def population(tmp_path_factory):  # type: ignore[no-untyped-def]
    from models.journey import run as simulate

    work = tmp_path_factory.mktemp("demo-drift")
    plain = work / "plain.jsonl"
    simulate(400, 60, seed=31, out=str(plain), progress=False)
    shifted = work / "shifted.jsonl"
    shifted.write_bytes(b"\n".join(drifted(x) for x in plain.read_bytes().splitlines()) + b"\n")
    return plain, shifted


def _drift(model, events, capsys):  # type: ignore[no-untyped-def]
    assert main(["drift", "--model", str(model), "--events", str(events), "--json"]) == 0
    return orjson.loads(capsys.readouterr().out)


def test_the_shift_shows_as_drift_of_the_pricing_features_and_the_score(small_model,
                                                                         population, capsys):
    plain, shifted = population
    before, after = _drift(small_model, plain, capsys), _drift(small_model, shifted, capsys)
    pricing = ("pricing_view_7d", "pricing_view_30d", "pricing_share")
    assert max(after["features"][f] for f in pricing) > 0.25
    assert all(after["features"][f] > before["features"][f] for f in pricing)
    assert after["score_psi"] > before["score_psi"]


def test_the_demo_prints_the_workers_quality_and_drift_figures() -> None:
    """The demo's quality line reads the worker's /metrics: predicted and observed conversion
    rates of the champion's 7-day look-back (not a challenger's in shadow), and the score's
    PSI; nothing before the worker has judged an outcome."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from streams.commands.demo import worker_quality
    from streams.settings import Settings

    page = {"text": ""}

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            body = page["text"].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s = Settings(web_host="127.0.0.1", web_port=server.server_address[1])
        page["text"] = ('leadscore_model_info{version="a"} 1.0\n'
                        'leadscore_quality_outcomes{lookback="7",version="a"} 0.0\n')
        assert worker_quality(s) is None
        page["text"] = "\n".join([
            "# HELP leadscore_model_info The model scoring now.",
            'leadscore_model_info{version="a"} 1.0',
            'leadscore_quality_outcomes{lookback="7",version="a"} 200.0',
            'leadscore_quality_outcomes{lookback="7",version="b"} 50.0',
            'leadscore_quality_outcomes{lookback="30",version="a"} 9.0',
            'leadscore_quality_conversions{lookback="7",version="a"} 50.0',
            'leadscore_quality_conversions{lookback="7",version="b"} 10.0',
            'leadscore_quality_predicted{lookback="7",version="a"} 46.0',
            'leadscore_quality_predicted{lookback="7",version="b"} 16.0',
            "leadscore_drift_score_psi 0.314"])
        assert worker_quality(s) == ("quality (outcomes vs the score 7 days before): 200 "
                                     "outcomes, predicted 23.0% vs observed 25.0%; score "
                                     "drift PSI 0.31")
    finally:
        server.shutdown()
    assert worker_quality(s) is None  # no worker answering
