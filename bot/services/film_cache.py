"""What a film is made of, as one key: the same inputs never assemble the same film twice.

The key covers every input that changes the picture or the sound: the clips in order (each
take's id and its file's hash, so a re-rendered file misses), the music (CALM, or the
song's hash), the words and their language, the narrated lines, the title and end cards,
the crossfade, the project's aspect where it has one, and the assembler's version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.types import Board
from bot.media.film import ASSEMBLER_VERSION, CALM, FilmResult, Words

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class FilmCut:
    """One film's inputs, ready to assemble, and the key a sent copy of it is kept under."""

    board: Board
    clips: list[Path]
    take_ids: list[int]
    words: Words | None
    music: Path | str | None
    title: str | None
    crossfade_s: float
    lines: list[str | None] = field(default_factory=list)  # each clip's line
    language: str = "en"
    narrate: bool = False  # the lines spoken over the film (speech is made only to assemble)
    end_card: str | None = None
    aspect: str | None = None  # the project's shape; None: the first clip's
    narrator: str = ""  # the speech model and voice, when narrated: another voice, another film
    key: str = ""


@dataclass(frozen=True, slots=True)
class SentFilm:
    """A film Telegram already holds: its file_id and what the chat shows about it."""

    file_id: str
    duration_s: float
    width: int
    height: int
    clips: int


@dataclass(frozen=True, slots=True)
class FilmOrder:
    """/film's answer: a copy to re-send by file_id, or a newly assembled file."""

    cut: FilmCut
    sent: SentFilm | None = None
    film: FilmResult | None = None

    @property
    def refitted(self) -> bool:
        """The film was encoded again at a lower bitrate to fit the upload limit."""
        return self.film is not None and self.film.bitrate is not None


def file_hash(path: Path) -> str:
    """SHA-256 of a file, read in chunks (clips and songs are megabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def film_key(cut: FilmCut) -> str:
    """The key of `cut`'s inputs; blocking (it hashes the files): call it on a thread."""
    music: str | None = None
    if cut.music == CALM:
        music = CALM
    elif cut.music is not None:
        music = "song:" + file_hash(Path(cut.music))
    words = None
    if cut.words is not None:
        words = {
            "lines": cut.words.lines,
            "language": cut.words.language,
            "burn": cut.words.burn,
            "soft": cut.words.soft,
        }
    inputs = {
        "assembler": ASSEMBLER_VERSION,
        "clips": [
            [take_id, file_hash(path)]
            for take_id, path in zip(cut.take_ids, cut.clips, strict=True)
        ],
        "music": music,
        "words": words,
        "title": cut.title,
        "crossfade_s": round(cut.crossfade_s, 3),
        "narration": [cut.lines, cut.language, cut.narrator] if cut.narrate else None,
        "end_card": cut.end_card,
        "aspect": cut.aspect,
    }
    encoded = json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()
