"""Failure mode 7: tokens never leak into output or files, whatever goes wrong."""

from __future__ import annotations

from tests.e2e.conftest import Connector, Run
from tests.e2e.faults_support import (
    add_integration,
    all_answered,
    github_requests_with,
    kill9,
    seed_issues,
    start_and_hold,
    wait_until,
)

CANARY = "SECRETcanary"
GITHUB_TOKEN = "ghp_test_SECRETcanary0000000000000000000"
REVOKED_TOKEN = "ghp_test_SECRETcanaryREVOKED000000000000"
BACKEND_TOKEN = "pcb_SECRETcanary"


def leaks(runs: list[Run], connector: Connector) -> list[str]:
    """Where the canary shows up: in a run's stdout or stderr, or in any file of the state directory."""
    found = [
        f"run {i} {stream}"
        for i, run in enumerate(runs)
        for stream in ("stdout", "stderr")
        if CANARY in getattr(run, stream)
    ]
    found += [
        str(path) for path in connector.state_dir.rglob("*") if path.is_file() and CANARY.encode() in path.read_bytes()
    ]
    return found


def test_tokens_never_appear_in_output_or_state_files_across_failures(connector: Connector) -> None:
    """Secrets: GitHub and backend tokens stay out of stdout, stderr, state, journal and dead letters."""
    github, backend = connector.github, connector.backend
    connector.env["BACKEND_API_TOKEN"] = BACKEND_TOKEN
    backend.required_token = BACKEND_TOKEN
    github.add_token(GITHUB_TOKEN)
    expected = seed_issues(github, count=4)
    seed_issues(github, "acme/flaky", count=1)
    add_integration(connector, token=GITHUB_TOKEN, repos=["acme/api-gateway", "acme/flaky"])
    add_integration(connector, id="revoked", token=REVOKED_TOKEN)  # GitHub answers 401
    add_integration(connector, id="invalid", token=GITHUB_TOKEN, repos=[])  # skipped by validation
    add_integration(connector, id="creds-in-url", token=GITHUB_TOKEN, api_url=f"https://x:{GITHUB_TOKEN}@127.0.0.1/")
    add_integration(connector, id="token-in-query", token=GITHUB_TOKEN, api_url=f"{github.url}?t={GITHUB_TOKEN}")
    # Upstreams that echo the request's credentials back in their error bodies
    github.fail_next("GET", "/acme/flaky/events$", 500, count=4, body={"message": f"proxy error for {GITHUB_TOKEN}"})
    backend.fail_next("POST", "/events$", 400, body={"message": f"bad request, authorization: Bearer {BACKEND_TOKEN}"})
    runs = []

    runs.append(connector.run("sync", "--verbose"))  # dead letter, failed repository, 401, invalid integrations
    assert runs[-1].returncode == 3, runs[-1].stderr
    assert (connector.state_dir / "state.json.deadletter.jsonl").read_text()  # there is something to leak into
    assert github_requests_with(github, GITHUB_TOKEN)  # the token really was used

    github.add_event("acme", "api-gateway", {**github.repo("acme", "api-gateway").events[0], "id": "49999999999"})
    process = start_and_hold(connector, backend, "POST", "/events$", 0, "--concurrency", "1")  # leaves a journal
    runs.append(kill9(process))
    backend.release()
    wait_until(lambda: all_answered(backend), what="the held POST")
    assert (connector.state_dir / "state.json.journal").exists()
    journal_leaks = leaks([], connector)

    backend.stop()
    runs.append(connector.run("sync", "--log-format", "text"))  # backend unreachable
    assert runs[-1].returncode == 4
    backend.start()
    runs.append(connector.run("sync", env={"BACKEND_API_TOKEN": BACKEND_TOKEN + "-wrong"}))  # backend 401
    assert runs[-1].returncode == 4
    runs.append(connector.run("deadletter", "retry", "--log-format", "text"))  # accepted this time
    assert runs[-1].returncode == 0
    runs.append(
        connector.run(
            "sync", "--repo", "acme/api-gateway", "--integration", "clx1", env={"GITHUB_TOKEN": REVOKED_TOKEN}
        )
    )  # 401
    assert runs[-1].returncode == 3

    assert journal_leaks == []
    assert leaks(runs, connector) == []
    assert set(backend.external_ids()) >= set(expected)


def test_app_private_keys_and_minted_tokens_never_appear_in_output_or_state(connector: Connector) -> None:
    """Secrets of GitHub Apps: the private key (whole or any line of it) and every minted installation
    token stay out of stdout, stderr, state, journal and dead letters, through refusals and echoes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    github, backend = connector.github, connector.backend
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]
    pems = [
        k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode()
        for k in keys
    ]
    key_lines = [line for pem in pems for line in pem.splitlines() if "-----" not in line and len(line) > 20]
    counter = iter(range(1000))
    github.apps.token_factory = lambda: f"ghs_{CANARY}{next(counter):04d}minted{'X' * 14}"  # 40 characters
    github.apps.add_app(1, keys[0].public_key())
    github.apps.add_app(2, keys[1].public_key())
    github.apps.add_listed_repo("acme", "api-gateway")
    github.apps.add_listed_repo("acme", "flaky")
    github.apps.add_installation(1, "acme")
    expected = seed_issues(github, count=3)
    seed_issues(github, "acme/flaky", count=1)
    app_config = {"appId": "1", "privateKey": pems[0]}
    backend.add_integration(id="app", token=None, repositories=[], extra_config=app_config)
    wrong_key = {"appId": "1", "privateKey": pems[1]}  # JWT signed with another key: 401
    backend.add_integration(id="app-wrong-key", token=None, repositories=["acme/api-gateway"], extra_config=wrong_key)
    not_installed = {"appId": "2", "privateKey": pems[1]}  # no installation: discovery fails
    backend.add_integration(id="app-not-installed", token=None, repositories=[], extra_config=not_installed)
    echo = f"proxy error for ghs_{CANARY}0000minted{'X' * 14} {key_lines[0]}"
    github.fail_next("GET", "/acme/flaky/events$", 500, count=4, body={"message": echo})
    backend.fail_next("POST", "/events$", 400, body={"message": f"bad request: {key_lines[1]}"})

    metrics = connector.state_dir / "metrics.prom"
    runs = [connector.run("sync", "--verbose", "--metrics-file", str(metrics))]
    assert runs[-1].returncode == 3, runs[-1].stderr
    assert metrics.read_text()  # scanned below with the state directory
    assert github_requests_with(github, f"ghs_{CANARY}0000minted{'X' * 14}")  # minted tokens really were used
    assert (connector.state_dir / "state.json.deadletter.jsonl").read_text()
    runs.append(connector.run("sync", "--dry-run", "--log-format", "text"))
    runs.append(connector.run("check"))
    runs.append(connector.run("state", "show"))

    assert leaks(runs, connector) == []
    texts = [run.stdout + run.stderr for run in runs]
    texts += [path.read_text() for path in connector.state_dir.rglob("*") if path.is_file()]
    assert not [line for line in key_lines if any(line in text for text in texts)]
    assert set(backend.external_ids()) >= set(expected[1:])
