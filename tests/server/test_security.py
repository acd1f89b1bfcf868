"""Authentication, XSRF, and artifacts served only by validated, referenced content hashes."""

from __future__ import annotations

import json

import pytest

from nbtrack.server.handlers import ROUTES

PASSWD = b"root:"


def _url(jp_base_url: str, path: str) -> str:
    return f"{jp_base_url}nbtrack/api/v1/{path}"


def _concrete(pattern: str) -> str:
    """A request path for a route pattern, e.g. /runs/(?P<run_id>[^/]+) -> runs/x."""
    path = pattern.lstrip("/")
    for group in ("(?P<run_id>[^/]+)", "(?P<name>[^/]+)", "(?P<job_id>[^/]+)", "(?P<hash>.*)"):
        path = path.replace(group, "x" * 32 if "hash" in group else "x")
    return path


async def test_every_route_refuses_a_request_without_credentials(http_server_client, jp_base_url, runs):
    for pattern, handler in ROUTES:
        for verb in [verb for verb in ("GET", "POST") if verb.lower() in vars(handler)]:
            response = await http_server_client.fetch(
                _url(jp_base_url, _concrete(pattern)),
                method=verb,
                raise_error=False,
                body=b"{}" if verb == "POST" else None,
            )
            assert response.code == 403, (verb, pattern, response.code)
            assert json.loads(response.body)["code"] == "forbidden"
            assert PASSWD not in response.body and b"rf-small" not in response.body


async def test_a_wrong_token_is_refused(http_server_client, jp_base_url, runs):
    response = await http_server_client.fetch(
        _url(jp_base_url, "runs"), headers={"Authorization": "token not-the-token"}, raise_error=False
    )
    assert response.code == 403
    assert b"rf-small" not in response.body
    assert "jupyter server list" in json.loads(response.body)["message"]


async def _login_cookies(http_server_client, jp_base_url, jp_auth_header) -> str:
    """Log in once with the token, as a browser does, and return the cookies the server set."""
    response = await http_server_client.fetch(_url(jp_base_url, "version"), headers=jp_auth_header)
    cookies = [c.split(";", 1)[0] for c in response.headers.get_list("Set-Cookie")]
    assert cookies, "the server should set a login cookie"
    return "; ".join(cookies)


async def test_cookie_post_without_xsrf_is_refused(http_server_client, jp_base_url, jp_auth_header, runs):
    cookie = await _login_cookies(http_server_client, jp_base_url, jp_auth_header)
    ok = await http_server_client.fetch(_url(jp_base_url, "runs"), headers={"Cookie": cookie})
    assert ok.code == 200  # the cookie alone authenticates reads
    refused = await http_server_client.fetch(
        _url(jp_base_url, f"runs/{runs['rf']}/rerun"),
        method="POST",
        body=json.dumps({"params": {}}),
        headers={"Cookie": cookie, "Content-Type": "application/json"},
        raise_error=False,
    )
    assert refused.code == 403
    assert b"xsrf" in refused.body.lower()
    accepted = await http_server_client.fetch(
        _url(jp_base_url, f"runs/{runs['rf']}/rerun"),
        method="POST",
        body=json.dumps({"params": {}}),
        headers={"Cookie": f"{cookie}; _xsrf=abc123", "X-XSRFToken": "abc123", "Content-Type": "application/json"},
        raise_error=False,
    )
    # Past the XSRF check: the rerun itself is refused because rf-small is a script run.
    assert accepted.code == 400, accepted.body
    assert json.loads(accepted.body)["code"] == "invalid_value"


# -- artifacts -----------------------------------------------------------------------------------
async def test_png_is_served_with_its_media_type_and_nosniff(api, runs):
    response = await api("artifacts", runs["png"], raw=True)
    assert response.body == runs["bytes"]["png"]
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == 'inline; filename="curve.png"'
    assert response.headers["ETag"] == f'"{runs["png"]}"'


@pytest.mark.parametrize("label, media_type", [("html", "text/html"), ("svg", "image/svg+xml")])
async def test_html_and_svg_are_sandboxed(api, runs, label, media_type):
    response = await api("artifacts", runs[label], raw=True)
    assert response.body == runs["bytes"][label]
    assert response.headers["Content-Type"] == media_type
    csp = response.headers["Content-Security-Policy"]
    assert "sandbox" in [part.strip().split(" ")[0] for part in csp.split(";")]
    assert "default-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_models_always_download_as_octet_stream(api, runs):
    response = await api("artifacts", runs["model"], raw=True)
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == 'attachment; filename="model.pkl"'
    assert response.body[:1] == b"\x80"  # the pickle, as bytes: never unpickled by the server


async def test_text_keeps_its_charset(api, runs):
    response = await api("artifacts", runs["text"], raw=True)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.body.decode("utf-8") == "héllo"


TRAVERSAL = [
    "../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "....//....//etc/passwd",
    "%00",
    "0123456789abcdef0123456789abcde%00",
    "0123456789abcdef0123456789abcdef%00",
    "0123456789abcdef0123456789abcdef%00/../../../etc/passwd",
    "0123456789abcdef0123456789abcdef/../../../../../etc/passwd",
    "0123456789ABCDEF0123456789ABCDEF",
    "0123456789abcdef0123456789abcde",
    "0123456789abcdef0123456789abcdef0",
    "0123456789abcdef0123456789abcdeg",
    "%30123456789abcdef0123456789abcdef",
    "..",
    ".",
    "",
    "objects%2f01%2f23456789abcdef0123456789abcdef",
    "~root",
]


@pytest.mark.parametrize("raw", TRAVERSAL)
async def test_path_traversal_corpus_is_400_or_404(http_server_client, jp_base_url, jp_auth_header, runs, raw):
    response = await http_server_client.fetch(
        _url(jp_base_url, f"artifacts/{raw}"), headers=jp_auth_header, raise_error=False
    )
    assert response.code in (400, 404), (raw, response.code)
    assert PASSWD not in response.body
    assert response.headers["Content-Type"].startswith("application/json")


async def test_uppercase_of_a_real_hash_is_refused(api_error, runs):
    body = await api_error(400, "artifacts", runs["png"].upper())
    assert body["code"] == "invalid_value" and "32 lowercase hex" in body["message"]


async def test_valid_hash_not_in_store_is_404(api_error, runs):
    body = await api_error(404, "artifacts", "0123456789abcdef0123456789abcdef")
    assert body["code"] == "artifact_not_found"


async def test_blob_present_but_not_referenced_is_404(api_error, nb_store, runs):
    orphan = nb_store.blobs.put_bytes(b"a blob no table refers to")
    assert nb_store.blobs.exists(orphan)
    body = await api_error(404, "artifacts", orphan)
    assert body["code"] == "artifact_not_found"


async def test_referenced_blob_that_links_outside_the_store_is_refused(api_error, nb_store, runs, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0")
    digest = "feedfacefeedfacefeedfacefeedface"
    target = nb_store.blobs.path(digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(secret)
    with nb_store.transaction() as conn:
        conn.execute(
            "INSERT INTO artifacts VALUES (?, 'evil.txt', 'file', ?, 10, 'text/plain', 0, NULL)", (runs["rf"], digest)
        )
    body = await api_error(404, "artifacts", digest)
    assert body["code"] == "artifact_not_found"


@pytest.mark.parametrize("raw", [r for r in TRAVERSAL if r])  # "runs/" with nothing after it is the runs list
@pytest.mark.parametrize("route", ["datasets/{}/versions", "datasets/{}/diff", "runs/{}", "runs/{}/rerun"])
async def test_path_traversal_corpus_on_dataset_and_run_routes(
    http_server_client, jp_base_url, jp_auth_header, runs, raw, route
):
    method, body = ("POST", "{}") if route.endswith("rerun") else ("GET", None)
    response = await http_server_client.fetch(
        _url(jp_base_url, route.format(raw)), method=method, body=body, headers=jp_auth_header, raise_error=False
    )
    assert response.code in (400, 403, 404, 405), (raw, route, response.code)
    assert PASSWD not in response.body
