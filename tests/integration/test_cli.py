"""The command line: bad configuration is refused clearly and nothing starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from replicator.cli.main import main


@pytest.mark.parametrize(("text", "expected"), [
    ('[limits]\nmax_in_flight = "many"\n', "limits.max_in_flight: Expected `int`, got `str`"),
    ("[limits]\nmax_inflight = 3\n", "limits: Object contains unknown field `max_inflight`"),
    ('[connections.a]\nprovider = "nope"\nclient_id = "x"\nclient_secret = "y"\n',
     "connections.a.provider: unknown provider 'nope'"),
    ('[connections.a]\nprovider = "exact_online"\nclient_id = "x"\nclient_secret = "y"\n'
     'resources = ["ledger"]\n', "connections.a.resources: exact_online has no resource 'ledger'"),
    ('[connections.a]\nprovider = "exact_online"\nclient_id = "x"\n',
     "connections.a: client_secret (or client_secret_env) is required"),
    ('[connections.a]\nprovider = "exact_online"\nclient_id = "x"\n'
     'client_secret_env = "REPLICATOR_TEST_UNSET_VAR"\n',
     "environment variable REPLICATOR_TEST_UNSET_VAR is not set"),
    ("[store\n", "not valid TOML"),
])
def test_bad_config_is_refused_with_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["run", "-c", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert not (tmp_path / "replica.sqlite").exists()  # nothing started


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-c", str(tmp_path / "absent.toml")]) == 2
    assert "cannot read config file" in capsys.readouterr().err


def test_providers_lists_exact(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers"]) == 0
    out = capsys.readouterr().out
    assert "exact_online" in out and "transaction_lines" in out and "cursor Timestamp" in out
