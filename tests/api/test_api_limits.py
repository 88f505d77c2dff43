"""The HTTP API's limits, health, metrics, security headers and OpenAPI document."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from api_calls import Api, assert_problem, new_fund, settings_for
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app

# -- limits, health, metrics, documentation ------------------------------------------------------


def small_app(
    store_url: str, tmp_path: Path, **overrides: Any
) -> tuple[TestClient, dict[str, str]]:
    ledger, tokens = new_fund(store_url)
    app = create_app(settings_for(store_url, tmp_path, **overrides), ledger)
    return TestClient(app, raise_server_exceptions=False), tokens


def big_donor_body() -> bytes:
    contact = {f"k{i}": "南" * 60 for i in range(10)}
    body = {"name": "大", "kind": "individual", "disclosure": "named", "contact": contact}
    return json.dumps(body, ensure_ascii=False).encode()


def test_a_body_over_the_limit_is_413(store_url: str, tmp_path: Path) -> None:
    client, tokens = small_app(store_url, tmp_path, request_body_bytes_max=1024)
    headers = {"Authorization": f"Bearer {tokens['treasurer']}"}
    content = big_donor_body()
    assert len(content) > 1024
    with client:
        response = client.post("/v1/donors", content=content, headers=headers)
        assert_problem(response, 413, "body-too-large", limit_bytes=1024)
        small = {"name": "小", "kind": "individual", "disclosure": "named"}
        assert client.post("/v1/donors", json=small, headers=headers).status_code == 201


def test_a_chunked_body_over_the_limit_is_413_too(sqlite_url: str, tmp_path: Path) -> None:
    client, tokens = small_app(sqlite_url, tmp_path, request_body_bytes_max=1024)
    headers = {"Authorization": f"Bearer {tokens['treasurer']}"}
    headers["Content-Type"] = "application/json"
    with client:
        response = client.post("/v1/donors", content=iter([big_donor_body()]), headers=headers)
    assert response.status_code == 413, response.text


def test_healthz_reports_the_store_and_the_views(demo: Api) -> None:
    health = demo.get("/healthz").json()
    assert health["status"] == "ok"
    events = demo.get("/v1/events", "auditor", after=health["log_position"] - 1).json()
    assert [e["position"] for e in events["items"]] == [health["log_position"]]
    assert health["views"]
    assert all(view["lag"] == 0 for view in health["views"].values())


def test_metrics_are_prometheus_text(demo: Api) -> None:
    demo.get("/v1/summary")
    demo.get("/v1/projects/health")
    response = demo.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE fund_ledger_requests_total counter" in text
    counted = re.search(
        r'^fund_ledger_requests_total\{method="GET",route="/v1/summary",status="200"\} (\d+)\.0$',
        text,
        re.MULTILINE,
    )
    assert counted is not None
    assert int(counted.group(1)) >= 1
    # Routes are counted by template, so ids and codes cannot blow up the label set.
    assert 'route="/v1/projects/{project}"' in text
    assert 'route="/v1/projects/health"' not in text
    lags = re.findall(r'^fund_ledger_projection_lag\{view="(\w+)"\} (\d+)\.0$', text, re.MULTILINE)
    assert {"books", "registers"} <= {view for view, _ in lags}


def _series(text: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_keep_a_bounded_set_of_series_whatever_the_requests(demo: Api) -> None:
    """Made-up methods, paths and query strings add no series: every label has known values."""

    def strange_requests(number: int) -> None:
        demo.client.request(f"BREW{number}X", f"/v1/summary?{number}=x")
        demo.client.request("GET", f"/no/such/path/{number}")
        demo.client.request(f"M{number}", f"/v1/projects/code{number}")

    strange_requests(0)
    demo.get("/metrics")
    before = _series(demo.get("/metrics").text)
    for number in range(1, 31):
        strange_requests(number)
    after = _series(demo.get("/metrics").text)
    assert after == before
    methods = {dict(labels).get("method") for _, labels in after} - {None}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}


def test_every_response_carries_the_security_headers(demo: Api) -> None:
    answers = [
        demo.client.get("/v1/summary"),
        demo.client.get("/no/such/page"),
        demo.client.post("/v1/donations", content=b"x" * (9 * 1024 * 1024)),
    ]
    assert [a.status_code for a in answers] == [200, 404, 413]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "script-src 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"


# The paths that issue 4 names, as it writes them.
ISSUE_PATHS = [
    ("post", "/v1/donors"),
    ("post", "/v1/projects"),
    ("post", "/v1/donations"),
    ("post", "/v1/donations/{id}/reverse"),
    ("post", "/v1/donations/batch"),
    ("post", "/v1/grants"),
    ("post", "/v1/grants/{id}/approve"),
    ("post", "/v1/grants/{id}/reject"),
    ("post", "/v1/grants/{id}/close"),
    ("post", "/v1/expenses"),
    ("post", "/v1/expenses/{id}/reverse"),
    ("post", "/v1/opinions"),
    ("post", "/v1/periods/{YYYY-MM}/close"),
    ("get", "/v1/summary"),
    ("get", "/v1/projects"),
    ("get", "/v1/projects/{id}"),
    ("get", "/v1/donations"),
    ("get", "/v1/grants"),
    ("get", "/v1/expenses"),
    ("get", "/v1/donors/{id}/statement"),
    ("get", "/v1/reports/monthly/{YYYY-MM}"),
    ("get", "/v1/reports/trial-balance"),
    ("get", "/v1/reports/activities"),
    ("get", "/v1/events"),
    ("get", "/v1/exports/beancount"),
    ("get", "/v1/exports/360giving"),
    ("get", "/v1/exports/donations.csv"),
    ("get", "/v1/exports/grants.csv"),
    ("get", "/v1/exports/expenses.csv"),
    ("get", "/v1/query"),
    ("get", "/healthz"),
    ("get", "/metrics"),
]


def _matches(template: str, path: str) -> bool:
    """Whether an OpenAPI path template serves a path of the issue (whose {x} is any segment)."""
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    concrete_path = re.sub(r"\{[^}]+\}", "x", path)
    return re.fullmatch(pattern, concrete_path) is not None


def test_openapi_lists_every_path_the_issue_names(demo: Api) -> None:
    spec = demo.get("/openapi.json").json()
    missing = [
        f"{method.upper()} {path}"
        for method, path in ISSUE_PATHS
        if not any(method in ops and _matches(t, path) for t, ops in spec["paths"].items())
    ]
    assert missing == []
    assert demo.get("/docs").status_code == 200


def test_every_field_of_every_request_body_is_described(demo: Api) -> None:
    schemas = demo.get("/openapi.json").json()["components"]["schemas"]
    bare = [
        f"{name}.{prop}"
        for name, schema in schemas.items()
        if name.endswith(("Create", "Batch")) or name == "Reason"
        for prop, definition in schema.get("properties", {}).items()
        if not definition.get("description")
    ]
    assert bare == []


def test_the_api_docs_load_everything_from_the_service_under_a_csp_that_allows_just_that(
    demo: Api,
) -> None:
    """/docs works on a closed network: Swagger UI's files come from the service itself, and
    only the docs get a policy that lets a script run."""
    docs = demo.client.get("/docs")
    assert docs.status_code == 200
    assert "http://" not in docs.text
    assert "https://" not in docs.text
    assert "<script>" not in docs.text  # no inline script: the policy needs no hash or nonce
    policy = dict(
        part.strip().split(" ", 1)
        for part in docs.headers["content-security-policy"].split(";")
        if part.strip()
    )
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert "unsafe-inline" not in docs.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', docs.text)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets), assets
    assert any(asset.endswith(".css") for asset in assets), assets
    for asset in assets:
        answer = demo.client.get(asset)
        assert answer.status_code == 200, asset
        assert len(answer.content) > 100, asset
    # The pages keep theirs: no script at all.
    home = demo.client.get("/")
    assert "script-src 'none'" in home.headers["content-security-policy"]
    assert "script-src 'none'" in demo.client.get("/v1/summary").headers["content-security-policy"]
