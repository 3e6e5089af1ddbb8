"""The command line refuses bad options itself: exit 2 with a message naming the option."""

from __future__ import annotations

import logging

import pytest

from bot.cli import _log_level, _parser


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["film", "Demo", "--crossfade", "-1"], "--crossfade: must be between 0 and 1 seconds"),
        (["film", "Demo", "--crossfade", "5"], "--crossfade: must be between 0 and 1 seconds"),
        (["film", "Demo", "--crossfade", "nan"], "--crossfade: must be between 0 and 1 seconds"),
        (["film", "Demo", "--crossfade", "inf"], "--crossfade: must be between 0 and 1 seconds"),
        (["film", "Demo", "--crossfade", "soon"], "--crossfade: 'soon' is not a number"),
        (["make", "p.jpg", "boats", "--duration", "7"], "--duration: invalid choice: 7"),
        (["make", "p.jpg", "boats", "--duration", "-5"], "--duration: invalid choice: -5"),
        (["make", "p.jpg", ""], "description: must not be empty"),
        (["make", "p.jpg", " \t\n"], "description: must not be empty"),
    ],
)
def test_out_of_range_options_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: claymate" in err and message in err, err


@pytest.mark.parametrize("value", ["0", "0.3", "1"])
def test_crossfade_in_range_is_accepted(value: str) -> None:
    assert _parser().parse_args(["film", "Demo", "--crossfade", value]).crossfade == float(value)


def test_verbose_goes_before_or_after_the_command_and_counts() -> None:
    assert _parser().parse_args(["-v", "history"]).verbose == 1
    assert _parser().parse_args(["history", "-v"]).verbose == 1
    assert _parser().parse_args(["history", "-vv"]).verbose == 2
    assert not hasattr(_parser().parse_args(["history"]), "verbose")


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        (["history"], logging.WARNING),
        (["history", "-v"], logging.INFO),
        (["-vv", "draft", "p.jpg", "x"], logging.DEBUG),
        (["run"], None),  # the bot: CLAYMATE_LOG_LEVEL, INFO by default
        (["run", "-vv"], logging.DEBUG),
    ],
)
def test_commands_log_warnings_unless_asked_and_the_bot_follows_its_setting(
    argv: list[str], level: int | None
) -> None:
    assert _log_level(_parser().parse_args(argv)) == level


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for code in ("0 ", "1 ", "2 ", "130 "):
        assert f"\n  {code}" in out, out
