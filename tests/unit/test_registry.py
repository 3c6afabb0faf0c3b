"""Providers load through entry points; a broken plugin is reported, not fatal."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from replicator.errors import PluginError
from replicator.providers import load_providers


def _install_fake_distribution(root: Path, entry_points: str) -> None:
    info = root / "broken_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "half_written_plugin.py").write_text("raise RuntimeError('syntax of the API changed')\n")
    (tmp_path / "not_a_provider.py").write_text("class Thing:\n    pass\n")
    _install_fake_distribution(tmp_path, "[replicator.providers]\n"
                                         "broken = half_written_plugin:Provider\n"
                                         "wrong = not_a_provider:Thing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = load_providers()
    assert "exact_online" in registry.providers
    assert "RuntimeError: syntax of the API changed" in registry.failures["broken"]
    assert "is not a Provider subclass" in registry.failures["wrong"]
    with pytest.raises(PluginError, match="provider 'broken' failed to load: RuntimeError"):
        registry.get("broken")
    with pytest.raises(PluginError, match=r"unknown provider 'nope'; installed: .*exact_online"):
        registry.get("nope")
    sys.modules.pop("not_a_provider", None)
