"""A film's key: the same inputs give the same key; each input that changes the film changes it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from bot.domain.types import Board
from bot.media import film
from bot.media.film import CALM, Words
from bot.services.film_cache import FilmCut, film_key


def cut(tmp_path: Path) -> FilmCut:
    clips = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.mp4"
        path.write_bytes(name.encode() * 100)
        clips.append(path)
    board = cast(Board, SimpleNamespace(project=SimpleNamespace(id=1)))
    return FilmCut(
        board,
        clips=clips,
        take_ids=[11, 12],
        words=None,
        music=None,
        title="Shanghai",
        crossfade_s=0.3,
        lines=["a tram", "a cat"],
    )


def test_each_input_changes_the_key_and_nothing_else_does(
    tmp_path: Path, monkeypatch: Any
) -> None:
    base = cut(tmp_path)
    key = film_key(base)
    assert key == film_key(cut(tmp_path)) and len(key) == 64
    song = tmp_path / "song.mp3"
    song.write_bytes(b"la" * 50)
    variants = [
        replace(base, clips=base.clips[::-1], take_ids=base.take_ids[::-1]),  # reordered
        replace(base, take_ids=[11, 13]),  # another take kept
        replace(base, music=CALM),
        replace(base, music=song),
        replace(base, words=Words(["a tram", "a cat"], language="zh")),
        replace(base, title=None),
        replace(base, crossfade_s=0.0),
        replace(base, narrate=True),
        replace(base, end_card="made with Claymate"),
        replace(base, aspect="9:16"),
        replace(base, narrate=True, narrator="gpt-4o-mini-tts/cedar"),  # another voice
    ]
    keys = {film_key(v) for v in variants}
    assert len(keys) == len(variants) and key not in keys
    song.write_bytes(b"da" * 50)  # the same name, another song
    assert film_key(replace(base, music=song)) not in keys
    base.clips[1].write_bytes(b"re-rendered")  # the same take, another file
    assert film_key(base) != key
    monkeypatch.setattr("bot.services.film_cache.ASSEMBLER_VERSION", film.ASSEMBLER_VERSION + 1)
    assert film_key(cut(tmp_path)) != key  # the first inputs again, a newer assembler
