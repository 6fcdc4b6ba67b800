"""DATABASE_URL may name several hosts (issue 21); a malformed one is one line naming it."""

import pytest

from settings import Settings, SettingsError


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write",
        "postgresql://flowline@127.0.0.1:54329/flowline?passfile=%2Fsrv%2Fpgpass",
        "postgresql://u:secret@[::1]:5432,h2/db?target_session_attrs=primary",
        "postgresql://postgres@/postgres?host=%2Fvar%2Frun&port=5432",
    ],
)
def test_single_and_multi_host_urls_are_accepted(url: str):
    assert Settings.from_env({"DATABASE_URL": url}, dotenv=False).database_url == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://u@h1:5432,,h2/db", "malformed host ''"),
        ("postgresql://u@h1:5432,h2:99999/db", "malformed host 'h2:99999'"),
        ("postgresql://u@h1:abc/db", "malformed host 'h1:abc'"),
        ("postgresql://u@[::1/db", "malformed"),
        ("postgresql://u@h1,h2/db?target_session_attrs=readwrite", "target_session_attrs"),
        ("mysql://u@h1/db", "postgresql://"),
    ],
)
def test_a_malformed_url_is_one_line_naming_the_variable(url: str, says: str):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DATABASE_URL": url}, dotenv=False)
    message = str(caught.value)
    assert message.startswith("DATABASE_URL") and says in message and "\n" not in message


def test_the_password_stays_out_of_the_message():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DATABASE_URL": "postgresql://u:hunter2@h1:x,h2/db"}, dotenv=False)
    assert "hunter2" not in str(caught.value)
