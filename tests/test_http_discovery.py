"""Repository discovery (its own request path) against hostile list answers: nested JSON, cross-scheme links."""

from __future__ import annotations

import re
from typing import Any

import requests
import requests_mock
from pydantic import SecretStr

from painchain_gh.discovery.listing import Discoverer
from painchain_gh.models import Integration, select_integrations

API = "https://api.github.com"
TOKEN = "ghp_discoveryCANARY0123456789"


def integration() -> Integration:
    row: dict[str, Any] = {
        "id": "Int1",
        "tenantId": "T1",
        "type": "github",
        "name": "Team",
        "config": {"token": TOKEN, "repositories": ["acme/*"]},
    }
    (valid,) = select_integrations([row]).valid
    return valid


def discover() -> list[str]:
    discoverer = Discoverer(session=requests.Session(), clock=lambda: 1_800_000_000.0, sleep=lambda _: None)
    return discoverer.discover(integration(), api_url=API, token=lambda: SecretStr(TOKEN)).problems


def test_a_deeply_nested_list_is_a_problem_not_a_crash(requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(re.compile(r"/orgs/acme/repos"), content=b"[" * 200_000)
    (problem,) = discover()
    assert "not JSON (nested too deeply)" in problem


def test_a_next_link_switching_to_http_is_not_followed(requests_mock: requests_mock.Mocker) -> None:
    repo = {"name": "api", "full_name": "acme/api", "owner": {"login": "acme"}, "archived": False, "disabled": False}
    link = '<http://api.github.com/orgs/acme/repos?page=2>; rel="next"'
    requests_mock.get(re.compile(r"^https://api\.github\.com/orgs/acme/repos"), json=[repo], headers={"Link": link})
    plain = requests_mock.get(re.compile(r"^http://"), json=[])
    (problem,) = discover()
    assert "another host" in problem
    assert not plain.called
