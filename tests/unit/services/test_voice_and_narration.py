"""Voice notes and narration as use cases: what is refused and said, with fake ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.domain.errors import ErrorKind, ProviderError, StudioError
from bot.domain.types import Actor
from bot.services.narration import Narration
from bot.services.voice import MAX_VOICE_SECONDS, VoiceNotes
from tests.unit.services.conftest import GROUP, MEMBER, OWNER, World, status_is


@dataclass
class FakeTranscriber:
    """Says what it was scripted to, or fails as a provider does; records each call."""

    said: str = "slower please"
    fails: bool = False
    calls: list[tuple[int, str, str | None]] = field(default_factory=list)

    async def transcribe(self, audio: bytes, filename: str, language: str | None) -> str:
        self.calls.append((len(audio), filename, language))
        if self.fails:
            raise ProviderError(ErrorKind.TRANSIENT, "server busy or failing")
        return self.said


@dataclass
class FakeSpeaker:
    spoken: list[tuple[str, str]] = field(default_factory=list)

    async def speak(self, text: str, language: str) -> bytes:
        self.spoken.append((text, language))
        return b"ID3 spoken"


ZH = Actor(user_id=1, chat_id=1, chat_type="private", lang="zh")


async def test_a_voice_note_is_heard_in_the_users_language_in_one_line() -> None:
    ears = FakeTranscriber(said="  让小船\n慢一点 ")
    assert await VoiceNotes(ears).transcribe(ZH, b"ogg", "voice.ogg") == "让小船 慢一点"
    assert ears.calls == [(3, "voice.ogg", "zh")]


@pytest.mark.parametrize(
    ("voice", "seconds", "key"),
    [
        (VoiceNotes(None), 3, "voice.offline"),
        (VoiceNotes(FakeTranscriber()), MAX_VOICE_SECONDS + 1, "voice.too_long"),
    ],
)
def test_what_cannot_be_heard_is_refused_before_downloading(
    voice: VoiceNotes, seconds: int, key: str
) -> None:
    with pytest.raises(StudioError) as refused:
        voice.check(seconds, 1000)
    assert refused.value.key == key


@pytest.mark.parametrize(
    ("ears", "key"),
    [(FakeTranscriber(said="  "), "voice.empty"), (FakeTranscriber(fails=True), "voice.failed")],
)
async def test_silence_or_a_failing_endpoint_gets_a_clear_message(
    ears: FakeTranscriber, key: str
) -> None:
    with pytest.raises(StudioError) as refused:
        await VoiceNotes(ears).transcribe(ZH, b"ogg", "voice.ogg")
    assert refused.value.key == key


async def test_narration_offline_cannot_be_turned_on_but_can_be_off(world: World) -> None:
    owner = await world.actor(OWNER)
    narration = world.services.narration  # built without a key: no speaker
    with pytest.raises(StudioError) as refused:
        await narration.set(owner, True)
    assert refused.value.key == "narration.needs_key"
    view = await narration.set(owner, False)
    assert not view.on and not view.available


async def test_narration_in_an_admins_only_group_is_the_admins_choice(
    world: World, tmp_path: Path
) -> None:
    narration = Narration(
        world.db, world.services.permissions, FakeSpeaker(), folder=tmp_path / "films"
    )
    owner = await world.actor(OWNER, GROUP)
    member = await world.actor(MEMBER, GROUP)
    await world.services.groups.set_policy(GROUP, "admins")
    with pytest.raises(StudioError) as refused:
        await narration.set(member, True, fetch_status=status_is("member"))
    assert refused.value.key == "group.generate_admins_only"
    view = await narration.set(owner, True, fetch_status=status_is("creator"))
    assert view.on and (await narration.show(owner)).on


async def test_spoken_lines_skip_shots_without_words_and_are_removed_after(
    world: World, tmp_path: Path
) -> None:
    voice = FakeSpeaker()
    narration = Narration(world.db, world.services.permissions, voice, folder=tmp_path)
    spoken = await narration.speak(["外滩的船", None, "  "], "zh")
    assert voice.spoken == [("外滩的船", "zh")]
    assert spoken[1:] == [None, None] and spoken[0] is not None and spoken[0].is_file()
    await narration.discard(spoken)
    assert not spoken[0].exists()
