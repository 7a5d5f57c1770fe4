"""Live source settings in the config: parsed, checked with file:line, never echoing secrets."""

from __future__ import annotations

import re

import pytest

from reconcile.config import load_config
from reconcile.errors import ConfigError
from reconcile.fetching import credential, require_credentials
from reconcile.providers._http import HttpPolicy

HEAD = "period: {start: 2026-10-01, end: 2026-11-01}\nsources:\n"


def config(write, source: str):
    return write("close.yaml", HEAD + source)


def error(write, source: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(config(write, source))
    return info.value


def test_live_source_is_parsed(write):
    cfg = load_config(
        config(
            write,
            """\
  stripe:
    provider: stripe
    credential_env: STRIPE_API_KEY
    options: {api_version: 2025-03-31.basil, limit: 50}
    http: {read_timeout: 30, max_attempts: 3, concurrency: 2, rate_per_second: 12.5}
""",
        )
    )
    [src] = cfg.sources
    assert src.live and src.recording is None
    assert src.base_url == "https://api.stripe.com"  # the provider's public default
    assert src.credential_env == "STRIPE_API_KEY"
    assert src.http == HttpPolicy(
        read_timeout=30.0, max_attempts=3, concurrency=2, rate_per_second=12.5
    )
    assert src.options == {"api_version": "2025-03-31.basil", "limit": 50}


def test_base_url_override_and_default_policy(write):
    cfg = load_config(
        config(
            write,
            """\
  frontier:
    provider: frontier
    base_url: http://127.0.0.1:8002/
    credential_env: FRONTIER_TOKEN
    options: {org_id: org-1, api: rest, auth: bearer}
""",
        )
    )
    assert cfg.sources[0].base_url == "http://127.0.0.1:8002"
    assert cfg.sources[0].http == HttpPolicy()


@pytest.mark.parametrize(
    ("source", "line", "pattern"),
    [
        ("  s: {provider: stripe, recording: rec, credential_env: K}\n", 4, "not both"),
        ("  s: {provider: stripe}\n", 4, "credential_env"),
        (
            "  s:\n    provider: stripe\n    credential_env: K\n    http: {retries: 3}\n",
            7,
            "unknown key.*retries",
        ),
        (
            "  s:\n    provider: stripe\n    credential_env: K\n    http: {concurrency: 0}\n",
            7,
            "http.concurrency",
        ),
        (
            "  s:\n    provider: stripe\n    credential_env: K\n    options: {limit: 500}\n",
            7,
            "between 1 and 100",
        ),
        (
            "  s:\n    provider: stripe\n    credential_env: K\n    options: {customer: x}\n",
            7,
            "unknown option 'customer'",
        ),
        (
            "  s:\n    provider: frontier\n    credential_env: K\n    options: {org_id: o}\n",
            4,
            "base_url.*required",
        ),
        (
            "  s:\n    provider: stripe\n    credential_env: K\n    base_url: http://api.example\n",
            6,
            "must be https",
        ),
        (
            "  s:\n    provider: stripe\n    credential_env: K\n    base_url: https://u:p@a.example\n",
            6,
            "user or password",
        ),
        (
            "  s:\n    provider: commet\n    credential_env: K\n"
            "    options: {api_version: 2025-01-01}\n",
            7,
            "must be one of",
        ),
        (
            "  s:\n    provider: f5xc\n    credential_env: K\n    options: {pdfs: yes}\n",
            7,
            "must be a bool",
        ),
    ],
)
def test_bad_live_settings_name_file_and_line(write, source, line, pattern):
    err = error(write, source)
    assert err.line is not None and err.line >= line - 1
    assert str(err).startswith(f"{err.path}:{err.line}:")
    assert re.search(pattern, str(err)), str(err)


def test_frontier_org_id_is_required_to_fetch_live(write):
    err = error(
        write,
        "  s:\n    provider: frontier\n    credential_env: K\n    base_url: https://f.example\n",
    )
    assert "org_id" in str(err) and "required" in str(err)


def test_a_secret_pasted_as_credential_env_is_refused_without_echo(write):
    secret = "sk_live_51AbCdEfGh"
    err = error(write, f"  s: {{provider: stripe, credential_env: {secret}}}\n")
    assert "*name* of an environment variable" in str(err)
    assert secret not in str(err)


def test_live_source_name_must_be_a_folder_name(write):
    err = error(write, '  "../x": {provider: stripe, credential_env: K}\n')
    assert "snapshot folder" in str(err)


def test_unquoted_dates_are_read_as_version_strings(write):
    cfg = load_config(
        config(
            write,
            "  s: {provider: commet, credential_env: K, options: {api_version: 2026-07-24}}\n",
        )
    )
    assert cfg.sources[0].options == {"api_version": "2026-07-24"}


def test_recording_sources_accept_fetch_options_and_check_normalizer_options(write):
    load_config(config(write, "  s: {provider: f5xc, recording: r, options: {pdfs: true}}\n"))
    err = error(write, "  s: {provider: amberflo, recording: r, options: {currency: 1}}\n")
    assert "must be a str" in str(err)


def test_missing_credential_is_a_config_error_naming_the_variable(write, monkeypatch):
    cfg = load_config(config(write, "  s: {provider: stripe, credential_env: RECON_TEST_KEY}\n"))
    monkeypatch.delenv("RECON_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"RECON_TEST_KEY.*is not set") as info:
        require_credentials(cfg.sources)
    assert info.value.exit_code == 2
    monkeypatch.setenv("RECON_TEST_KEY", "  ")
    with pytest.raises(ConfigError, match="is empty"):
        credential(cfg.sources[0])
    monkeypatch.setenv("RECON_TEST_KEY", "sk_test_value")
    assert credential(cfg.sources[0]) == "sk_test_value"


def test_frontier_org_ids_list_or_all(write):
    for value, expected in (("[org-a, org-b]", ["org-a", "org-b"]), ("all", "all")):
        cfg = load_config(
            config(
                write,
                "  s:\n    provider: frontier\n    credential_env: K\n"
                "    base_url: https://f.example\n"
                f"    options: {{org_ids: {value}}}\n",
            )
        )
        assert cfg.sources[0].options["org_ids"] == expected
    err = error(
        write,
        "  s:\n    provider: frontier\n    credential_env: K\n"
        "    base_url: https://f.example\n    options: {org_ids: some}\n",
    )
    assert "'org_ids' must be a list of strings or 'all'" in str(err) and err.line == 7
