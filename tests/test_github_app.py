"""GitHub App authentication against the fake GitHub (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from painchain_gh import secrets
from painchain_gh.errors import GitHubAuthError, GitHubTemporaryError
from painchain_gh.github.app import AppCredentials, InstallationTokenProvider, TokenProviders
from painchain_gh.models import select_integrations
from tests.fakes import FakeGitHub

APP_ID = 123456
KEYS = Path(__file__).parent / "fixtures" / "keys"


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Clock:
    """A clock the test moves; shared by the provider and the fake so that expiry is deterministic."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture
def github(key: rsa.RSAPrivateKey, clock: Clock) -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.clock = clock
        fake.apps.add_app(APP_ID, key.public_key())
        fake.apps.add_listed_repo("acme", "api", private=True)
        fake.apps.add_listed_repo("acme", "web")
        yield fake


def provider(
    github: FakeGitHub,
    key: rsa.RSAPrivateKey,
    clock: Clock,
    *,
    installation_id: int | None = None,
    first_repository: str | None = None,
    api_url: str | None = None,
) -> InstallationTokenProvider:
    credentials = AppCredentials(api_url or github.url, str(APP_ID), SecretStr(_pem(key)), installation_id)
    return InstallationTokenProvider(
        credentials, session=requests.Session(), first_repository=first_repository, clock=clock, sleep=lambda _: None
    )


def get_repo(github: FakeGitHub, token: SecretStr, path: str = "/repos/acme/api") -> int:
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    return requests.get(github.url + path, headers=headers, timeout=5).status_code


def test_token_is_minted_once_and_reaches_the_normal_endpoints(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    installation = github.apps.add_installation(APP_ID, "acme")
    app = provider(github, key, clock, installation_id=installation.id)
    first, second = app.current(), app.current()
    assert first.get_secret_value() == second.get_secret_value()
    assert github.apps.mint_count(installation.id) == 1
    assert get_repo(github, first) == 200  # a private repository of the installation
    (mint,) = github.requests_to("POST", r"/app/installations/\d+/access_tokens")
    assert mint.headers["authorization"].startswith("Bearer ey")  # a JWT, not the installation token


def test_signed_jwt_has_the_documented_claims(github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock) -> None:
    signed = provider(github, key, clock, installation_id=1).app_jwt()
    claims = jwt.decode(
        signed, key.public_key(), algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims["iss"] == str(APP_ID)
    assert claims["iat"] == int(clock.now) - 60
    assert 0 < claims["exp"] - clock.now <= 600


def test_token_is_minted_again_when_fewer_than_five_minutes_are_left(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    installation = github.apps.add_installation(APP_ID, "acme", token_lifetime=3600)
    app = provider(github, key, clock, installation_id=installation.id)
    first = app.current()
    clock.now += 3600 - 301
    assert app.current().get_secret_value() == first.get_secret_value()
    clock.now += 2
    assert app.current().get_secret_value() != first.get_secret_value()
    assert github.apps.mint_count(installation.id) == 2


def test_a_token_that_expires_mid_run_is_replaced(github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock) -> None:
    installation = github.apps.add_installation(APP_ID, "acme", token_lifetime=600)
    app = provider(github, key, clock, installation_id=installation.id)
    old = app.current()
    assert get_repo(github, old) == 200
    clock.now += 601  # the fake expires the token; the provider sees it has no time left
    assert get_repo(github, old) == 401
    new = app.current()
    assert new.get_secret_value() != old.get_secret_value()
    assert get_repo(github, new) == 200


def test_installation_is_found_from_the_first_repository(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    github.apps.add_installation(APP_ID, "other")
    installation = github.apps.add_installation(APP_ID, "acme")
    app = provider(github, key, clock, first_repository="acme/web")
    assert app.installation_id() == installation.id
    assert github.requests_to("GET", r"^/repos/acme/web/installation$")
    assert get_repo(github, app.current(), "/repos/acme/web") == 200


def test_installation_is_found_when_the_app_has_exactly_one(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    installation = github.apps.add_installation(APP_ID, "acme")
    assert provider(github, key, clock).installation_id() == installation.id


def test_several_installations_without_installation_id_are_explained(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    first = github.apps.add_installation(APP_ID, "acme")
    second = github.apps.add_installation(APP_ID, "other")
    with pytest.raises(GitHubAuthError, match="2 installations") as caught:
        provider(github, key, clock).current()
    assert f"{first.id}, {second.id}" in str(caught.value)
    assert "installationId" in str(caught.value)


def test_app_not_installed_on_the_repository_is_an_auth_error(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    github.apps.add_installation(APP_ID, "other")
    with pytest.raises(GitHubAuthError, match="not found while finding its installation on acme/api"):
        provider(github, key, clock, first_repository="acme/api").current()


def test_jwt_signed_with_another_key_is_rejected_without_quoting_the_key(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    installation = github.apps.add_installation(APP_ID, "acme")
    with pytest.raises(GitHubAuthError) as caught:
        provider(github, other, clock, installation_id=installation.id).current()
    message = str(caught.value)
    assert "appId and privateKey" in message
    assert f"GitHub App {APP_ID}" in message
    assert github.apps.jwt_rejections
    assert all(line not in message for line in _pem(other).splitlines()[1:-1])


def test_jwt_that_githubs_clock_sees_as_expired_is_rejected(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    installation = github.apps.add_installation(APP_ID, "acme")
    app = provider(github, key, clock, installation_id=installation.id)
    github.clock = Clock(clock.now + 900)  # GitHub's clock 15 minutes ahead: the JWT has expired
    with pytest.raises(GitHubAuthError, match="clock"):
        app.current()
    assert "'Expiration time'" in github.apps.jwt_rejections[-1]


def test_unreadable_private_key_gives_a_plain_message(github: FakeGitHub, clock: Clock) -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nSECRETcanaryKEYmaterial\n-----END RSA PRIVATE KEY-----\n"
    credentials = AppCredentials(github.url, str(APP_ID), SecretStr(pem), 1)
    app = InstallationTokenProvider(credentials, session=requests.Session(), clock=clock)
    with pytest.raises(GitHubAuthError, match="privateKey could not be read") as caught:
        app.current()
    assert "SECRETcanary" not in str(caught.value)
    assert not github.requests  # nothing was sent


@pytest.mark.parametrize("bits", [1024, 8192])
def test_keys_outside_2048_to_4096_bits_are_refused_before_they_are_validated(
    github: FakeGitHub, clock: Clock, bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives import serialization as ser

    pem = (KEYS / f"test-only-rsa-{bits}.pem").read_bytes()
    validated: list[bool] = []
    real = ser.load_pem_private_key

    def spy(data: bytes, password: bytes | None, **options: bool) -> object:
        validated.append(not options.get("unsafe_skip_rsa_key_validation", False))
        return real(data, password, **options)

    monkeypatch.setattr(ser, "load_pem_private_key", spy)
    credentials = AppCredentials(github.url, str(APP_ID), SecretStr(pem.decode()), 1)
    app = InstallationTokenProvider(credentials, session=requests.Session(), clock=clock)
    with pytest.raises(GitHubAuthError, match=f"{bits}-bit RSA key; painchain-gh accepts 2048 to 4096 bits"):
        app.current()
    assert validated == [False]  # only the cheap parse ran: its size was known before any validation
    assert not github.requests


def test_a_4096_bit_key_is_accepted(github: FakeGitHub, clock: Clock) -> None:
    key4096 = serialization.load_pem_private_key((KEYS / "test-only-rsa-4096.pem").read_bytes(), None)
    assert isinstance(key4096, rsa.RSAPrivateKey)
    github.apps.add_app(APP_ID + 1, key4096.public_key())
    installation = github.apps.add_installation(APP_ID + 1, "acme")
    credentials = AppCredentials(github.url, str(APP_ID + 1), SecretStr(_pem(key4096)), installation.id)
    assert InstallationTokenProvider(credentials, session=requests.Session(), clock=clock).current()


@pytest.mark.parametrize(("lifetime", "reused_for"), [(3600, 3300), (240, 180), (60, 30), (10, 5)])
def test_a_short_lived_token_is_reused_until_shortly_before_it_expires(
    github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock, lifetime: int, reused_for: int
) -> None:
    installation = github.apps.add_installation(APP_ID, "acme", token_lifetime=lifetime)
    app = provider(github, key, clock, installation_id=installation.id)
    first = app.current().get_secret_value()
    clock.now += reused_for - 1
    assert app.current().get_secret_value() == first
    assert github.apps.mint_count(installation.id) == 1
    clock.now += 2
    assert app.current().get_secret_value() != first
    assert github.apps.mint_count(installation.id) == 2


def test_key_and_tokens_are_scrubbed_from_logs(github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock) -> None:
    installation = github.apps.add_installation(APP_ID, "acme")
    token = provider(github, key, clock, installation_id=installation.id).current().get_secret_value()
    assert secrets.scrub(f"token={token}.") == "token=***."
    pem = _pem(key)
    assert secrets.scrub(pem).strip() == "***"
    assert secrets.scrub(pem.splitlines()[5]) == "***"  # one line of the key alone


def test_tokens_of_any_length_are_accepted(github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock) -> None:
    github.apps.token_factory = lambda: "ghs_" + "A1b2" * 120 + ".x_y-z"
    installation = github.apps.add_installation(APP_ID, "acme")
    token = provider(github, key, clock, installation_id=installation.id).current()
    assert len(token.get_secret_value()) == 490
    assert get_repo(github, token) == 200


def test_concurrent_callers_share_one_mint(github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock) -> None:
    installation = github.apps.add_installation(APP_ID, "acme")
    app = provider(github, key, clock, installation_id=installation.id)
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(app.current().get_secret_value())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8
    assert len(set(seen)) == 1
    assert github.apps.mint_count(installation.id) == 1


def test_enterprise_server_mints_under_its_api_url(github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock) -> None:
    installation = github.apps.add_installation(APP_ID, "acme")
    provider(github, key, clock, installation_id=installation.id, api_url=github.ghes_url).current()
    assert github.requests_to("POST", r"^/api/v3/app/installations/\d+/access_tokens$")


def test_describe_app_and_installation_for_check(github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock) -> None:
    github.apps.add_installation(APP_ID, "acme", repositories=["acme/api"], permissions={"metadata": "read"})
    app = provider(github, key, clock, first_repository="acme/api")
    info = app.describe_app()
    assert (info.id, info.slug, info.owner) == (APP_ID, "painchain-test", "acme")
    assert info.permissions["actions"] == "read"
    installation = app.describe_installation()
    assert (installation.account, installation.account_type) == ("acme", "Organization")
    assert installation.repository_selection == "selected"
    assert installation.permissions == {"metadata": "read"}
    assert not installation.suspended
    minted = app.installation()
    assert minted.repository_selection == "selected"
    assert minted.expires_at == pytest.approx(clock.now + 3600, abs=1)


def test_suspended_installation_is_an_auth_error(github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock) -> None:
    installation = github.apps.add_installation(APP_ID, "acme", suspended=True)
    with pytest.raises(GitHubAuthError, match="suspended"):
        provider(github, key, clock, installation_id=installation.id).current()


def test_server_errors_are_retried_then_temporary(github: FakeGitHub, key: rsa.RSAPrivateKey, clock: Clock) -> None:
    installation = github.apps.add_installation(APP_ID, "acme")
    github.fail_next("POST", "access_tokens", 502)
    assert provider(github, key, clock, installation_id=installation.id).current()
    github.fail_next("POST", "access_tokens", 502, count=3)
    with pytest.raises(GitHubTemporaryError, match="502"):
        provider(github, key, clock, installation_id=installation.id).current()


def test_providers_are_shared_per_tenant_api_url_app_key_and_installation(
    github: FakeGitHub, key: rsa.RSAPrivateKey
) -> None:
    providers = TokenProviders(session=requests.Session())
    pem = SecretStr(_pem(key))
    one = providers.get(AppCredentials(github.url + "/", str(APP_ID), pem, 5, "T1"))
    assert providers.get(AppCredentials(github.url, str(APP_ID), pem, 5, "T1")) is one
    assert providers.get(AppCredentials(github.url, str(APP_ID), pem, 6, "T1")) is not one
    assert providers.get(AppCredentials(github.ghes_url, str(APP_ID), pem, 5, "T1")) is not one
    # Public identifiers alone never reach another provider: another key, or another tenant, gets its own.
    other_key = SecretStr(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    assert providers.get(AppCredentials(github.url, str(APP_ID), other_key, 5, "T1")) is not one
    not_a_key = SecretStr("-----BEGIN RSA PRIVATE KEY-----\nnot-a-key\n-----END RSA PRIVATE KEY-----")
    assert providers.get(AppCredentials(github.url, str(APP_ID), not_a_key, 5, "T1")) is not one
    assert providers.get(AppCredentials(github.url, str(APP_ID), pem, 5, "T2")) is not one
    assert providers.get(AppCredentials(github.url, str(APP_ID), pem, 5, None)) is not one


def test_credentials_come_from_a_validated_integration(key: rsa.RSAPrivateKey) -> None:
    pem = _pem(key).replace("\n", "\\n")  # as pasted from an environment variable
    row = {
        "id": "app1",
        "type": "github",
        "name": "App",
        "config": {"appId": APP_ID, "privateKey": pem, "installationId": "42"},
    }
    (integration,) = select_integrations([row]).valid
    credentials = AppCredentials.of(integration, "https://api.github.com/")
    assert credentials is not None
    assert (credentials.api_url, credentials.app_id, credentials.installation_id) == (
        "https://api.github.com",
        str(APP_ID),
        42,
    )
    assert credentials.private_key.get_secret_value().startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert "PRIVATE" not in repr(credentials)


def test_the_cli_does_not_import_the_jwt_libraries() -> None:
    import subprocess
    import sys

    code = "import sys, painchain_gh.cli; print(sorted(m for m in ('jwt', 'cryptography') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == "[]"
