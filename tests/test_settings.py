"""Settings: environment over billsync.yaml, base-URL safety, secrets that never show."""

from __future__ import annotations

import pytest

from sync.errors import ConfigError
from sync.settings import Secret, check_base_url, load_settings


def settings(env, tmp_path, yaml_text=None):
    if yaml_text is not None:
        path = tmp_path / "billsync.yaml"
        path.write_text(yaml_text, encoding="utf-8")
        return load_settings(path, env)
    return load_settings(None, env)


def test_base_url_is_built_from_the_subdomain(tmp_path):
    s = settings({"BILLOMAT_ID": "musterfirma", "BILLOMAT_API_KEY": "k"}, tmp_path).billomat()
    assert s.base_url == "https://musterfirma.billomat.net/api"


def test_environment_wins_over_the_config_file(tmp_path):
    s = settings(
        {"BILLOMAT_ID": "fromenv", "BILLOMAT_API_KEY": "k"},
        tmp_path,
        "billomat:\n  id: fromfile\n  rate_limit_reserve: 50\n",
    ).billomat()
    assert s.base_url == "https://fromenv.billomat.net/api"
    assert s.rate_reserve == 50


def test_missing_api_key_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="BILLOMAT_API_KEY"):
        settings({"BILLOMAT_ID": "x"}, tmp_path).billomat()


def test_missing_account_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="BILLOMAT_ID"):
        settings({"BILLOMAT_API_KEY": "k"}, tmp_path).billomat()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/api", "http://localhost/api", "http://[::1]:1/api", "https://x.billomat.net/api"])
def test_https_or_loopback_http_is_accepted(url):
    check_base_url(url, "BILLOMAT_BASE_URL")


@pytest.mark.parametrize("url", ["http://billomat.example.com/api", "http://10.0.0.5/api", "ftp://x/api", "nonsense"])
def test_plain_http_to_a_remote_host_is_refused(url):
    with pytest.raises(ConfigError, match="BILLOMAT_BASE_URL"):
        check_base_url(url, "BILLOMAT_BASE_URL")


def test_secret_never_shows_itself():
    secret = Secret("top-secret-value")
    assert "top-secret" not in repr(secret) + str(secret) + f"{secret}"
    assert secret.reveal() == "top-secret-value"


def test_invalid_yaml_names_file_and_line(tmp_path):
    with pytest.raises(ConfigError, match=r"billsync.yaml line \d+, column \d+: not valid YAML"):
        settings({}, tmp_path, "billomat:\n  id: [unclosed\n")


def test_missing_config_file_given_with_flag_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml", {})
