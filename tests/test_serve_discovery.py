from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakhunter.cli.parse import duration, size
from leakhunter.collect.fetch import FetchOptions
from leakhunter.errors import LeakhunterError
from leakhunter.harness.fake import FakeServer, Reply, Request
from leakhunter.serve.discovery import Discovery, DiscoveryError, FileSD, HttpSD
from leakhunter.serve.targets import TargetSpec
from leakhunter.units import parse_duration, parse_size

TOKEN = "tok-9f3c1e-SECRET"
HEADER_SECRET = "hdr-77aa-SECRET"
PASSWORD = "pw-1234-SECRET"


def write(path: Path, text: str) -> Path:
    """Write text and move mtime forward: two writes in one tick must still look changed."""
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    st = path.stat()
    if st.st_mtime_ns <= old:
        os.utime(path, ns=(st.st_atime_ns, old + 1_000_000))
    return path


def by_url(specs: list[TargetSpec] | None) -> dict[str, TargetSpec]:
    assert specs is not None
    return {s.url: s for s in specs}


def bad(sd: Discovery) -> str:
    with pytest.raises(DiscoveryError) as info:
        sd.poll()
    msg = str(info.value)
    assert "\n" not in msg and isinstance(info.value, LeakhunterError)
    return msg


# -- file_sd: shapes and labels ----------------------------------------------------------


def test_json_file_two_groups(tmp_path: Path) -> None:
    f = write(
        tmp_path / "targets.json",
        json.dumps(
            [
                {"targets": ["10.0.0.1:6060", "api.internal:6060"], "labels": {"env": "prod"}},
                {"targets": ["[::1]:7070"], "labels": {"env": "dev", "team": "core"}},
            ]
        ),
    )
    sd = FileSD(f)
    got = by_url(sd.poll())
    assert list(got) == ["http://10.0.0.1:6060", "http://api.internal:6060", "http://[::1]:7070"]
    assert dict(got["http://[::1]:7070"].labels) == {"env": "dev", "team": "core"}
    assert dict(got["http://10.0.0.1:6060"].labels) == {"env": "prod"}
    assert all(s.source == f"file_sd:{f}" and s.interval is None for s in got.values())
    assert got["http://api.internal:6060"].fetch == FetchOptions()
    assert sd.warnings == () and sd.name == f"file_sd:{f}" and sd.interval == 5.0


def test_yaml_file_with_every_meta_label(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text(TOKEN + "\n")
    (tmp_path / "secrets" / "org").write_text(HEADER_SECRET + "\n")
    f = write(
        tmp_path / "targets.yaml",
        """
- targets: [billing-0.billing:6060, billing-1.billing:6060]
  labels:
    app: billing
    __scheme__: https
    __path_prefix__: /admin/debug/pprof/
    __interval__: 1m
    __token_file__: secrets/token
    __insecure_skip_verify__: true
    __header_X_Scope_OrgID__: "@secrets/org"
    __header_Accept_Language__: en
- targets: ["search:6060"]
""",
    )
    got = by_url(FileSD(f).poll())
    assert list(got) == [
        "https://billing-0.billing:6060/admin",
        "https://billing-1.billing:6060/admin",
        "http://search:6060",
    ]
    spec = got["https://billing-0.billing:6060/admin"]
    assert dict(spec.labels) == {"app": "billing"}
    assert spec.interval == 60.0
    assert spec.fetch.bearer_token == TOKEN
    assert spec.fetch.insecure is True
    assert dict(spec.fetch.headers) == {"X-Scope-OrgID": HEADER_SECRET, "Accept-Language": "en"}
    plain = got["http://search:6060"]
    assert plain.fetch.bearer_token is None and plain.fetch.headers == ()
    assert plain.interval is None and dict(plain.labels) == {}


def test_sniffs_format_without_a_known_extension(tmp_path: Path) -> None:
    j = write(tmp_path / "t1", '[{"targets": ["a:1"]}]')
    y = write(tmp_path / "t2", "- targets: ['b:2']\n  labels: {x: y}\n")
    assert [s.url for s in FileSD(j).poll() or []] == ["http://a:1"]
    assert [dict(s.labels) for s in FileSD(y).poll() or []] == [{"x": "y"}]


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not found: cannot make a test CA")
    d = tmp_path_factory.mktemp("ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"), "-subj", "/CN=test-ca"],
        check=True,
        capture_output=True,
    )
    return d / "ca.pem"


def test_ca_file_is_loaded_and_a_bad_one_refused(tmp_path: Path, ca_pem: Path) -> None:
    shutil.copy(ca_pem, tmp_path / "ca.pem")
    f = write(
        tmp_path / "t.json", json.dumps([{"targets": ["h:1"], "labels": {"__ca_file__": "ca.pem"}}])
    )
    (spec,) = FileSD(f).poll() or []
    assert spec.fetch.ca_file == str(tmp_path / "ca.pem")
    (tmp_path / "junk.pem").write_text("not a certificate")
    g = write(
        tmp_path / "g.json",
        json.dumps([{"targets": ["h:1"], "labels": {"__ca_file__": "junk.pem"}}]),
    )
    msg = bad(FileSD(g))
    assert str(g) in msg and "group 0" in msg and "__ca_file__" in msg


def test_full_url_targets_keep_credentials_out_of_the_url(tmp_path: Path) -> None:
    f = write(
        tmp_path / "t.json",
        json.dumps(
            [
                {
                    "targets": [
                        f"https://ops:{PASSWORD}@db.internal:8443/tools/debug/pprof/",
                        "http://cache:6060",
                        f"ops:{PASSWORD}@queue:6060",
                    ],
                    "labels": {"__path_prefix__": "ignored-for-urls", "tier": "data"},
                }
            ]
        ),
    )
    got = by_url(FileSD(f).poll())
    assert list(got) == [
        "https://db.internal:8443/tools",
        "http://cache:6060",
        "http://queue:6060/ignored-for-urls",
    ]
    assert got["https://db.internal:8443/tools"].fetch.basic_auth == ("ops", PASSWORD)
    assert got["http://cache:6060"].fetch.basic_auth is None
    assert got["http://queue:6060/ignored-for-urls"].fetch.basic_auth == ("ops", PASSWORD)
    for spec in got.values():
        assert PASSWORD not in repr(spec) and PASSWORD not in spec.url + spec.id


def test_secrets_never_in_repr_labels_or_errors(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "h").write_text(HEADER_SECRET)
    labels = {"__token_file__": "token", "__header_X_Api_Key__": "@h", "svc": "a"}
    f = write(
        tmp_path / "t.json", json.dumps([{"targets": [f"u:{PASSWORD}@h:1"], "labels": labels}])
    )
    (spec,) = FileSD(f).poll() or []
    assert spec.fetch.bearer_token == TOKEN and dict(spec.fetch.headers) == {
        "X-Api-Key": HEADER_SECRET
    }
    shown = repr(spec) + str(spec) + repr(dict(spec.labels)) + json.dumps(spec.fetch.to_json())
    for secret in (TOKEN, HEADER_SECRET, PASSWORD):
        assert secret not in shown
    # a bad target holding a password: the message names it without the password
    g = write(tmp_path / "g.json", json.dumps([{"targets": [f"u:{PASSWORD}@h:99999"]}]))
    msg = bad(FileSD(g))
    assert PASSWORD not in msg and "***@h:99999" in msg and "group 0, target 0" in msg
    # a literal header value that spans lines is refused without showing it
    h = write(
        tmp_path / "h.json",
        json.dumps(
            [{"targets": ["h:1"], "labels": {"__header_X__": f"{HEADER_SECRET}\r\nEvil: 1"}}]
        ),
    )
    msg = bad(FileSD(h))
    assert HEADER_SECRET not in msg and "__header_X__" in msg


def test_repeated_urls_first_wins_and_is_reported(tmp_path: Path) -> None:
    f = write(
        tmp_path / "t.yaml",
        """
- targets: ["a:1", "b:2"]
  labels: {team: first}
- targets: ["http://A:1", "c:3"]
  labels: {team: second}
""",
    )
    sd = FileSD(f)
    got = by_url(sd.poll())
    assert list(got) == ["http://a:1", "http://b:2", "http://c:3"]
    assert got["http://a:1"].labels["team"] == "first"
    assert len(sd.warnings) == 1
    assert "group 1, target 0" in sd.warnings[0] and "group 0, target 0" in sd.warnings[0]


def test_unknown_meta_labels_warn_prometheus_ones_pass_quietly(tmp_path: Path) -> None:
    labels = {
        "__schema__": "https",
        "__metrics_path__": "/metrics",
        "__meta_x": "y",
        "__scrape_interval__": "15s",
        "target": "mine",
        "job": "api",
    }
    f = write(tmp_path / "t.json", json.dumps([{"targets": ["h:1"], "labels": labels}]))
    sd = FileSD(f)
    (spec,) = sd.poll() or []
    assert spec.url == "http://h:1" and spec.interval is None
    assert dict(spec.labels) == {"job": "api"}
    assert len(sd.warnings) == 2
    assert "__schema__" in sd.warnings[0] and "'target'" in sd.warnings[1]


# -- file_sd: reloading ------------------------------------------------------------------


def test_reload_only_on_change(tmp_path: Path) -> None:
    f = write(tmp_path / "t.json", '[{"targets": ["a:1"]}]')
    sd = FileSD(f)
    assert [s.url for s in sd.poll() or []] == ["http://a:1"]
    assert sd.poll() is None
    assert sd.poll() is None
    write(f, '[{"targets": ["a:1"]}]')  # touched, same content: same list
    assert sd.poll() is None
    write(f, '[{"targets": ["a:1", "b:2"]}]')
    assert [s.url for s in sd.poll() or []] == ["http://a:1", "http://b:2"]
    write(f, '[{"targets": ["a:1", "b:2"], "labels": {"env": "x"}}]')
    assert [dict(s.labels) for s in sd.poll() or []] == [{"env": "x"}, {"env": "x"}]
    assert sd.poll() is None


def test_rotated_token_is_picked_up_without_touching_the_targets_file(tmp_path: Path) -> None:
    tok = tmp_path / "token"
    write(tok, "first-token")
    f = write(
        tmp_path / "t.json",
        json.dumps([{"targets": ["h:1"], "labels": {"__token_file__": "token"}}]),
    )
    sd = FileSD(f)
    assert [s.fetch.bearer_token for s in sd.poll() or []] == ["first-token"]
    assert sd.poll() is None
    write(tok, "second-token")
    assert [s.fetch.bearer_token for s in sd.poll() or []] == ["second-token"]


def test_bad_file_is_reported_once_then_recovers(tmp_path: Path) -> None:
    f = write(tmp_path / "t.json", '[{"targets": ["a:1"]}]')
    sd = FileSD(f)
    assert sd.poll() is not None and sd.error is None
    write(f, '[{"targets": ["a:1"]')  # half-saved
    msg = bad(sd)
    assert str(f) in msg and "not valid JSON" in msg and sd.error == msg
    assert sd.poll() is None  # unchanged and still bad: the caller keeps the last good list
    write(f, '[{"targets": ["a:1"]}]')
    assert sd.poll() is None  # back to the last good list: nothing to reconcile
    assert sd.error is None
    write(f, '[{"targets": ["b:2"]}]')
    assert [s.url for s in sd.poll() or []] == ["http://b:2"]


def test_missing_token_file_retried_when_it_appears(tmp_path: Path) -> None:
    f = write(
        tmp_path / "t.json", json.dumps([{"targets": ["h:1"], "labels": {"__token_file__": "tok"}}])
    )
    sd = FileSD(f)
    msg = bad(sd)
    assert str(f) in msg and "group 0" in msg and "__token_file__" in msg and "tok" in msg
    assert sd.poll() is None
    write(tmp_path / "tok", TOKEN)
    assert [s.fetch.bearer_token for s in sd.poll() or []] == [TOKEN]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"targets": ["a:1"]}', "not a list of target groups"),
        ("[]\n[", "not valid JSON"),
        ('[{"labels": {"a": "b"}}]', 'group 0: "targets" must be a non-empty list'),
        ('[{"targets": ["a:1"]}, {"targets": []}]', 'group 1: "targets" must be a non-empty list'),
        ('[{"targets": ["a:1"]}, "x"]', "group 1: not a mapping"),
        (
            '[{"targets": ["a:1"], "labels": {"__interval__": "soon"}}]',
            "group 0: __interval__: not a duration: 'soon'",
        ),
        (
            '[{"targets": ["a:1"], "labels": {"__interval__": "0s"}}]',
            "group 0: __interval__: duration must be positive",
        ),
        (
            '[{"targets": ["a:1"], "labels": {"__scheme__": "ftp"}}]',
            "group 0: __scheme__ must be http or https, not 'ftp'",
        ),
        (
            '[{"targets": ["a:1"], "labels": {"__insecure_skip_verify__": "yes"}}]',
            "group 0: __insecure_skip_verify__",
        ),
        ('[{"targets": ["a:1"], "labels": {"x": ["l"]}}]', "group 0: label 'x' must be a string"),
        ('[{"targets": ["a:1"], "labels": {"bad-name": "v"}}]', "group 0: label name 'bad-name'"),
        ('[{"targets": ["a:1"], "labels": {"__header_a_b c__": "v"}}]', "group 0: label name"),
        ('[{"targets": ["a:1"], "labels": "env=prod"}]', 'group 0: "labels" must be a mapping'),
        ('[{"targets": ["a:1", "b:2/x"]}]', "group 0, target 1: target 'b:2/x' has a path"),
        ('[{"targets": ["a:http"]}]', "group 0, target 0: target 'a:http' has a bad port"),
        ('[{"targets": [":80"]}]', "group 0, target 0: target ':80' needs a host"),
        ('[{"targets": ["a:0"]}]', "needs a host (and a port from 1 to 65535)"),
        ('[{"targets": ["ftp://a:1"]}]', "scheme must be http or https"),
        ('[{"targets": ["http://a:1/x?y=1"]}]', "has a query or fragment"),
        ('[{"targets": [6060]}]', "group 0, target 0: not a target: int"),
    ],
)
def test_bad_json_is_one_line_naming_file_and_group(
    tmp_path: Path, text: str, expected: str
) -> None:
    f = write(tmp_path / "t.json", text)
    msg = bad(FileSD(f))
    assert msg.startswith(str(f)) and expected in msg


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- targets: [a:1\n  labels: {}\n", "not valid YAML (line"),
        ("", "empty (write [] for no targets)"),
        ("targets: [a:1]\n", "not a list of target groups (found dict)"),
        (
            "- targets: [a:1]\n  labels: {x: 1.5}\n",
            "group 0: label 'x' must be a string, not float",
        ),
    ],
)
def test_bad_yaml_is_one_line(tmp_path: Path, text: str, expected: str) -> None:
    f = write(tmp_path / "t.yml", text)
    msg = bad(FileSD(f))
    assert msg.startswith(str(f)) and expected in msg


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    msg = bad(FileSD(tmp_path / "nope.yaml"))
    assert msg == f"cannot read targets file {tmp_path / 'nope.yaml'}: No such file or directory"


def test_unreadable_token_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    tok = tmp_path / "token"
    tok.write_text(TOKEN)
    tok.chmod(0)
    f = write(
        tmp_path / "t.json",
        json.dumps(
            [{"targets": ["a:1"]}, {"targets": ["b:1"], "labels": {"__token_file__": "token"}}]
        ),
    )
    sd = FileSD(f)
    msg = bad(sd)
    assert "group 1" in msg and "Permission denied" in msg and TOKEN not in msg
    tok.chmod(0o600)  # a chmod changes ctime only: still noticed
    assert [s.fetch.bearer_token for s in sd.poll() or []] == [None, TOKEN]


def test_token_file_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "token").mkdir()
    labels = {"__token_file__": "token"}
    f = write(tmp_path / "t.json", json.dumps([{"targets": ["b:1"], "labels": labels}]))
    msg = bad(FileSD(f))
    assert msg == f"{f}: group 0: cannot read __token_file__ {tmp_path / 'token'}: Is a directory"


def test_header_values_are_not_in_fetch_options_repr() -> None:
    opts = FetchOptions(headers=(("X-Api-Key", HEADER_SECRET),))
    assert HEADER_SECRET not in repr(opts) and HEADER_SECRET not in json.dumps(opts.to_json())


# -- units moved out of cli --------------------------------------------------------------


def test_units_parse_like_the_cli() -> None:
    assert parse_duration("1m") == duration("1m") == 60.0
    assert parse_duration("500ms") == 0.5 and parse_size("2GiB") == size("2GiB") == 2 << 30
    for text in ("soon", "0s", "9" * 400 + "d"):
        with pytest.raises(ValueError) as ve:
            parse_duration(text)
        with pytest.raises(argparse.ArgumentTypeError) as ae:
            duration(text)
        assert str(ve.value) == str(ae.value)
    for text in ("lots", "1e999GiB"):
        with pytest.raises(ValueError) as ve:
            parse_size(text)
        with pytest.raises(argparse.ArgumentTypeError) as ae:
            size(text)
        assert str(ve.value) == str(ae.value)


# -- http_sd -----------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


def answer(groups: object, status: int = 200, ctype: str = "application/json") -> Reply:
    return Reply(status, json.dumps(groups).encode(), headers=(("Content-Type", ctype),))


NO_RETRY = FetchOptions(timeout=30.0, retries=0)


def test_http_sd_lists_targets_and_notices_changes(server: FakeServer) -> None:
    body = [{"targets": ["10.1.0.5:6060"], "labels": {"app": "cart", "__interval__": "30s"}}]
    server.routes["/sd"] = lambda r: answer(body)
    sd = HttpSD(server.url + "/sd", refresh=45.0, fetch_options=NO_RETRY)
    assert sd.interval == 45.0 and sd.name == f"http_sd:{server.url}/sd"
    (spec,) = sd.poll() or []
    assert spec.url == "http://10.1.0.5:6060" and dict(spec.labels) == {"app": "cart"}
    assert spec.interval == 30.0 and spec.source == sd.name
    assert server.requests[-1].headers["x-prometheus-refresh-interval-seconds"] == "45"
    assert sd.poll() is None
    body.append({"targets": ["10.1.0.6:6060"]})
    assert [s.url for s in sd.poll() or []] == ["http://10.1.0.5:6060", "http://10.1.0.6:6060"]
    assert server.hits("/sd") == 3


def test_http_sd_errors_are_one_line(server: FakeServer) -> None:
    routes = {
        "/500": lambda r: Reply(500, b"upstream exploded"),
        "/dict": lambda r: answer({"targets": ["a:1"]}),
        "/html": lambda r: Reply(200, b"<html>login</html>", (("Content-Type", "text/html"),)),
        "/204": lambda r: Reply(204),
        "/nogroup": lambda r: answer([{"targets": ["a:1"]}, {"labels": {}}]),
    }
    server.routes.update(routes)
    expect = {
        "/500": "HTTP 500",
        "/dict": "not a list of target groups (found dict)",
        "/html": "not valid JSON",
        "/204": "answered HTTP 204, not 200",
        "/nogroup": 'group 1: "targets" must be a non-empty list',
    }
    for path, text in expect.items():
        msg = bad(HttpSD(server.url + path, fetch_options=NO_RETRY))
        assert msg.startswith(f"http_sd:{server.url}{path}: ") and text in msg, msg


def test_http_sd_keeps_the_last_list_on_a_bad_answer(server: FakeServer) -> None:
    state = {"status": 200}
    server.routes["/sd"] = lambda r: answer([{"targets": ["a:1"]}], state["status"])
    sd = HttpSD(server.url + "/sd", fetch_options=NO_RETRY)
    assert sd.poll() is not None
    state["status"] = 503
    bad(sd)
    state["status"] = 200
    assert sd.poll() is None  # the same answer as the last good one


def test_http_sd_may_not_make_serve_read_local_files(server: FakeServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(TOKEN)
    for labels in (
        {"__token_file__": str(secret)},
        {"__header_Authorization__": f"@{secret}"},
        {"__ca_file__": str(secret)},
    ):
        server.routes["/sd"] = lambda r, labels=labels: answer(
            [{"targets": ["a:1"], "labels": labels}]
        )
        msg = bad(HttpSD(server.url + "/sd", fetch_options=NO_RETRY))
        assert "names a local file" in msg and "group 0" in msg and TOKEN not in msg
    # literal values from the answer are fine
    server.routes["/sd"] = lambda r: answer(
        [{"targets": ["a:1"], "labels": {"__header_X_Tenant__": "blue"}}]
    )
    (spec,) = HttpSD(server.url + "/sd", fetch_options=NO_RETRY).poll() or []
    assert dict(spec.fetch.headers) == {"X-Tenant": "blue"}


def test_http_sd_credentials_and_defaults(server: FakeServer) -> None:
    seen: list[Request] = []

    def check(req: Request) -> Reply:
        seen.append(req)
        return answer([{"targets": ["a:1"]}])

    server.routes["/sd"] = check
    url = server.url.replace("http://", f"http://sd:{PASSWORD}@") + "/sd"
    defaults = FetchOptions(timeout=3.0, bearer_token=TOKEN)
    sd = HttpSD(url, fetch_options=NO_RETRY, defaults=defaults)
    (spec,) = sd.poll() or []
    assert seen[-1].headers["authorization"].startswith("Basic ")
    assert PASSWORD not in sd.name and PASSWORD not in repr(spec)
    assert spec.fetch.timeout == 3.0 and spec.fetch.bearer_token == TOKEN
    assert TOKEN not in repr(spec)


def test_http_sd_connection_refused_is_one_line() -> None:
    with FakeServer() as srv:
        url = srv.url + "/sd"
    msg = bad(HttpSD(url, fetch_options=NO_RETRY))
    assert "connection refused" in msg and msg.startswith("http_sd:")


def test_http_sd_body_is_capped(server: FakeServer) -> None:
    big = [{"targets": [f"h{i}:6060" for i in range(600_000)]}]
    server.routes["/sd"] = lambda r: answer(big)
    msg = bad(HttpSD(server.url + "/sd", fetch_options=NO_RETRY))
    assert "larger than the 8388608-byte limit" in msg
