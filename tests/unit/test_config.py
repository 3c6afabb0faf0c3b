"""The configuration file: a good one parses, each bad one names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from replicator import config
from replicator.config import Config, ConnectionConfig, LimitsConfig, Secrets, StoreConfig
from replicator.errors import ConfigError

GOOD = """\
# Two Exact Online licences and one region override.
[store]
url = "sqlite:///data/replica.sqlite"

[limits]
max_in_flight = 128
pool_size = 96
request_timeout = 45.5
batch_pages = 10
max_attempts = 4

[connections.acme]
provider = "exact_online"
base_url = "https://start.exactonline.nl"
client_id = "00000000-0000-0000-0000-000000000001"
client_secret_env = "ACME_EXACT_CLIENT_SECRET"
refresh_token_env = "ACME_EXACT_REFRESH_TOKEN"
resources = ["transaction_lines", "accounts", "deleted"]
tenants = ["123456", "234567"]

[connections.acme.fields]
transaction_lines = ["Date", "GLAccountCode", "AmountDC", "Description"]

[connections.acme.options]
page_size = 1000
sandbox = false

[connections.globex-be]
provider = "exact_online"
base_url = "https://start.exactonline.be"
client_id_env = "GLOBEX_CLIENT_ID"
client_secret = "file-secret-globex"
refresh_token = "file-refresh-globex"
"""


def parse(text: str) -> Config:
    return config.parse(text, source="replicator.toml")


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return str(info.value)


def test_a_realistic_file_parses() -> None:
    cfg = parse(GOOD)
    assert cfg.store == StoreConfig(url="sqlite:///data/replica.sqlite")  # no base_dir given
    assert cfg.limits == LimitsConfig(max_in_flight=128, pool_size=96, request_timeout=45.5,
                                      batch_pages=10, max_attempts=4)
    assert list(cfg.connections) == ["acme", "globex-be"]
    acme = cfg.connections["acme"]
    assert acme == ConnectionConfig(
        provider="exact_online", base_url="https://start.exactonline.nl",
        client_id="00000000-0000-0000-0000-000000000001",
        client_secret_env="ACME_EXACT_CLIENT_SECRET",
        refresh_token_env="ACME_EXACT_REFRESH_TOKEN",
        resources=["transaction_lines", "accounts", "deleted"], tenants=["123456", "234567"],
        fields={"transaction_lines": ["Date", "GLAccountCode", "AmountDC", "Description"]},
        options={"page_size": 1000, "sandbox": False})
    globex = cfg.connections["globex-be"]
    assert (globex.client_id_env, globex.client_secret, globex.refresh_token) == (
        "GLOBEX_CLIENT_ID", "file-secret-globex", "file-refresh-globex")
    assert globex.resources is None and globex.fields == {} and globex.options == {}


def test_an_empty_file_gives_the_defaults() -> None:
    cfg = parse("")
    assert cfg.store.url == "sqlite:///replica.sqlite"
    assert cfg.limits == LimitsConfig(max_in_flight=64, pool_size=None, request_timeout=60.0,
                                      batch_pages=20, max_attempts=6)
    assert cfg.connections == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[limits]\nmax_in_flight = "many"\n',
         "replicator.toml: limits.max_in_flight: Expected `int`, got `str`"),
        ("[limits]\nmax_in_flight = 0\n",
         "replicator.toml: limits.max_in_flight: Expected `int` >= 1"),
        ("[limits]\nrequest_timeout = 601\n",
         "replicator.toml: limits.request_timeout: Expected `float` <= 600.0"),
        ("[store]\nurl = 5\n", "replicator.toml: store.url: Expected `str`, got `int`"),
        ('[connections.acme]\nprovider = "exact_online"\ntenants = "123456"\n',
         "replicator.toml: connections.acme.tenants: Expected `array | null`, got `str`"),
        ('[connections.acme]\nprovider = "exact_online"\nresources = [1, 2]\n',
         "replicator.toml: connections.acme.resources[0]: Expected `str`, got `int`"),
        ("[connections.acme]\nprovider = 7\n",
         "replicator.toml: connections.acme.provider: Expected `str`, got `int`"),
        ("[connections]\nacme = 3\n",
         "replicator.toml: connections.acme: Expected `object`, got `int`"),
        ("connections = 3\n",
         "replicator.toml: connections: expected a table of named connections"),
    ],
    ids=["int-as-str", "below-min", "above-max", "store-url", "list-as-str", "list-item",
         "provider-type", "connection-not-table", "connections-not-table"],
)
def test_a_bad_type_names_the_key(text: str, message: str) -> None:
    assert error_of(text) == message


def test_a_bad_value_inside_a_fields_table_names_its_resource() -> None:
    text = ('[connections.acme]\nprovider = "exact_online"\n'
            '[connections.acme.fields]\naccounts = "Name"\n')
    message = error_of(text)
    assert "connections.acme.fields.accounts" in message, message
    assert "Expected `array`, got `str`" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[stor]\nurl = "x"\n', "replicator.toml: Object contains unknown field `stor`"),
        ("[limits]\nmax_inflight = 3\n",
         "replicator.toml: limits: Object contains unknown field `max_inflight`"),
        ('[connections.acme]\nprovider = "exact_online"\nclient_secret_envv = "X"\n',
         "replicator.toml: connections.acme: Object contains unknown field `client_secret_envv`"),
    ],
    ids=["top", "limits", "connection"],
)
def test_an_unknown_key_is_named(text: str, message: str) -> None:
    assert error_of(text) == message


def test_a_missing_provider_is_named() -> None:
    assert error_of('[connections.acme]\nclient_id = "x"\n') == (
        "replicator.toml: connections.acme: Object missing required field `provider`")


@pytest.mark.parametrize(
    "url",
    ["ftp://start.exactonline.nl", "start.exactonline.nl", "https://", "https:///api",
     "https://start exactonline.nl"],
)
def test_a_bad_base_url_is_named(url: str) -> None:
    message = error_of(f'[connections.acme]\nprovider = "exact_online"\nbase_url = "{url}"\n')
    assert message == (f"replicator.toml: connections.acme.base_url: expected an http(s) URL, "
                       f"got {url!r}")


@pytest.mark.parametrize("url", ["https://start.exactonline.nl", "http://127.0.0.1:8080",
                                 "https://start.exactonline.co.uk/"])
def test_good_base_urls(url: str) -> None:
    cfg = parse(f'[connections.acme]\nprovider = "exact_online"\nbase_url = "{url}"\n')
    assert cfg.connections["acme"].base_url == url


@pytest.mark.parametrize("name", ["acme corp", "1acme", "_acme", "a" * 64, "acmé", "acme.nl"])
def test_a_bad_connection_name_is_named(name: str) -> None:
    message = error_of(f'[connections."{name}"]\nprovider = "exact_online"\n')
    assert message.startswith(f"replicator.toml: connections.{name}: a connection name starts "
                              "with a letter")


@pytest.mark.parametrize("name", ["a", "Acme", "acme_nl", "globex-be", "a" + "b" * 62])
def test_good_connection_names(name: str) -> None:
    assert list(parse(f'[connections."{name}"]\nprovider = "x"\n').connections) == [name]


@pytest.mark.parametrize("field", ["client_id", "client_secret", "refresh_token"])
def test_a_secret_and_its_variable_together_are_refused(field: str) -> None:
    text = f'[connections.acme]\nprovider = "exact_online"\n{field} = "a"\n{field}_env = "B"\n'
    assert error_of(text) == (
        f"replicator.toml: connections.acme: set {field} or {field}_env, not both")


def test_invalid_toml_is_a_config_error() -> None:
    message = error_of("[limits\nmax_in_flight = 3\n")
    assert message.startswith("replicator.toml: not valid TOML: ")
    assert "line 1" in message


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*nope\.toml"):
        config.load(tmp_path / "nope.toml")


# -- store path resolution --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///replica.sqlite", "sqlite:///{dir}/replica.sqlite"),
        ("sqlite:///data/replica.sqlite", "sqlite:///{dir}/data/replica.sqlite"),
        ("replica.db", "sqlite:///{dir}/replica.db"),
        ("data/replica.db", "sqlite:///{dir}/data/replica.db"),
        ("sqlite:////var/lib/replica.sqlite", "sqlite:////var/lib/replica.sqlite"),
        ("/var/lib/replica.db", "sqlite:////var/lib/replica.db"),
        ("postgresql://user@db.internal/replica", "postgresql://user@db.internal/replica"),
    ],
)
def test_a_relative_store_path_is_resolved_against_the_config_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, expected: str) -> None:
    folder = tmp_path / "etc" / "replicator"
    folder.mkdir(parents=True)
    file = folder / "replicator.toml"
    file.write_text(f'[store]\nurl = "{url}"\n')
    monkeypatch.chdir(tmp_path)  # not the config's folder
    assert config.load(file).store.url == expected.format(dir=folder)


def test_the_default_store_lives_beside_the_config_file(tmp_path: Path) -> None:
    file = tmp_path / "replicator.toml"
    file.write_text(GOOD.replace('url = "sqlite:///data/replica.sqlite"', ""))
    assert config.load(file).store.url == f"sqlite:///{tmp_path}/replica.sqlite"


def test_a_relative_config_path_still_resolves_beside_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "r.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    assert config.load("conf/r.toml").store.url == "sqlite:///conf/replica.sqlite"


# -- secrets ----------------------------------------------------------------------------


def test_secrets_come_from_the_file_or_the_environment() -> None:
    cfg = parse(GOOD)
    env = {"ACME_EXACT_CLIENT_SECRET": "env-secret-acme",
           "ACME_EXACT_REFRESH_TOKEN": "env-refresh-acme", "GLOBEX_CLIENT_ID": "globex-id"}
    assert config.secrets("acme", cfg.connections["acme"], env) == Secrets(
        "00000000-0000-0000-0000-000000000001", "env-secret-acme", "env-refresh-acme")
    assert config.secrets("globex-be", cfg.connections["globex-be"], env) == Secrets(
        "globex-id", "file-secret-globex", "file-refresh-globex")


def test_secrets_read_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse(GOOD)
    monkeypatch.setenv("ACME_EXACT_CLIENT_SECRET", "from-os-environ")
    monkeypatch.delenv("ACME_EXACT_REFRESH_TOKEN", raising=False)
    secrets = config.secrets("acme", cfg.connections["acme"])
    assert secrets.client_secret == "from-os-environ"
    assert secrets.refresh_token is None  # optional: the store may hold a rotated one


def test_a_missing_environment_variable_is_named() -> None:
    cfg = parse(GOOD)
    with pytest.raises(ConfigError) as info:
        config.secrets("acme", cfg.connections["acme"], {"ACME_EXACT_REFRESH_TOKEN": "rt"})
    assert str(info.value) == ("connections.acme.client_secret_env: environment variable "
                               "ACME_EXACT_CLIENT_SECRET is not set")
    with pytest.raises(ConfigError) as info:
        config.secrets("globex-be", cfg.connections["globex-be"], {})
    assert str(info.value) == ("connections.globex-be.client_id_env: environment variable "
                               "GLOBEX_CLIENT_ID is not set")


def test_a_missing_client_secret_is_named() -> None:
    conn = parse('[connections.acme]\nprovider = "exact_online"\nclient_id = "id"\n'
                 ).connections["acme"]
    with pytest.raises(ConfigError) as info:
        config.secrets("acme", conn, {})
    assert str(info.value) == "connections.acme: client_secret (or client_secret_env) is required"


def test_secrets_repr_hides_the_secrets() -> None:
    secrets = Secrets("client-id-1", "client-secret-xyz", "refresh-token-abc")
    for text in (repr(secrets), str(secrets), f"{secrets}", f"{[secrets]}"):
        assert text == "Secrets(client_id='client-id-1', client_secret=***, refresh_token=***)" \
            or text == "[Secrets(client_id='client-id-1', client_secret=***, refresh_token=***)]"
        assert "client-secret-xyz" not in text and "refresh-token-abc" not in text
