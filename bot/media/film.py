"""Assemble a project's kept takes, in order, into one MP4 that fits the chat's upload limit.

Stream copy (packets remuxed, no re-encode) is lossless and takes a second; it is used
when every clip shares codec, size and frame rate and nothing has to be drawn (no title
card, no crossfades, no burned-in words). Anything else is one re-encode to the first
clip's frame rate, on a canvas of the project's shape (or the first clip's, for a project
without one); a clip of another shape is letterboxed or pillarboxed, never stretched.
A film over the upload limit is encoded again at the bitrate that fits.

Sound is one mixed track (bot/media/soundtrack.py): the clips' own sound where they have
any, placed where each clip plays, with the music ducked under it, at about -16 LUFS.
Words are each shot's line, burned in and as a soft `mov_text` track
(bot/media/subtitles.py). Audio and subtitle packets are encoded ahead and interleaved
with the video by time, so a phone can stream the film from its first second.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal, cast

import av
import numpy as np
from PIL import Image, ImageDraw

from bot.domain.aspect import canvas, matching_aspect
from bot.media import soundtrack
from bot.media.clay import clay_still
from bot.media.fonts import load_font
from bot.media.probe import ClipError, probe_mp4
from bot.media.subtitles import Burner, Cue, add_soft_track

Method = Literal["copy", "reencode"]

TITLE_SECONDS = 2.0
END_CARD_SECONDS = 2.0
MAX_NARRATION_S = 60.0  # one shot's spoken line: a sentence or two, never minutes
MAX_CROSSFADE_S = 1.0
_CRF = 20
_PRESET = "veryfast"
_SIZE_MARGIN = 0.92  # container overhead and rate-control overshoot
_MIN_BITRATE = 16_000
_AUDIO_BITRATE = 128_000
CALM = "calm"  # `music=CALM`: the generated offline loop instead of a file
# Part of every cached film's key: raise it whenever the same inputs would make another film.
ASSEMBLER_VERSION = 1


class FilmError(Exception):
    """The film cannot be made (no clips, a clip that doesn't play, or no way to fit)."""


class FilmTooLarge(FilmError):
    """Even at the lowest bitrate tried, the film is over the upload limit."""

    def __init__(self, size_bytes: int, limit_bytes: int) -> None:
        super().__init__(f"film is {size_bytes} bytes, over the {limit_bytes} byte limit")
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes


@dataclass(frozen=True, slots=True)
class ClipFacts:
    path: Path
    codec: str
    width: int
    height: int
    fps: Fraction
    duration_s: float


@dataclass(frozen=True, slots=True)
class FilmResult:
    path: Path
    method: Method
    duration_s: float
    width: int
    height: int
    size_bytes: int
    clips: int
    bitrate: int | None = None  # set when the size cap forced a bitrate
    has_audio: bool = False
    subtitles: bool = False


@dataclass(frozen=True, slots=True)
class Words:
    """Each clip's line (None: no words for that clip), shown burned in and/or soft."""

    lines: list[str | None]
    language: str = "en"
    burn: bool = True
    soft: bool = True


class _Extras:
    """Audio and subtitle packets made ahead, muxed in time order among the video's."""

    def __init__(self) -> None:
        self._pending: list[tuple[float, av.Packet]] = []

    def add(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            if packet.pts is None or packet.time_base is None:
                continue
            self._pending.append((float(packet.pts * packet.time_base), packet))
        self._pending.sort(key=lambda item: item[0])

    def until(self, output: av.container.OutputContainer, seconds: float) -> None:
        while self._pending and self._pending[0][0] <= seconds:
            output.mux(self._pending.pop(0)[1])

    def rest(self, output: av.container.OutputContainer) -> None:
        self.until(output, float("inf"))


def clip_facts(path: Path) -> ClipFacts:
    """Codec, size, frame rate and duration of one clip (what decides copy vs re-encode)."""
    facts = probe_mp4(path)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(24)
    return ClipFacts(
        path, facts.codec, facts.width, facts.height, Fraction(rate), facts.duration_s
    )


def can_stream_copy(clips: list[ClipFacts]) -> bool:
    first = clips[0]
    return all(
        (c.codec, c.width, c.height, c.fps) == (first.codec, first.width, first.height, first.fps)
        for c in clips
    )


def assemble_film(
    paths: list[Path],
    dest: Path,
    *,
    title: str | None = None,
    crossfade_s: float = 0.0,
    limit_bytes: int | None = None,
    threads: int = 0,
    force: Method | None = None,
    music: Path | str | None = None,
    words: Words | None = None,
    narration: list[Path | None] | None = None,
    end_card: str | None = None,
    aspect: str | None = None,
) -> FilmResult:
    """Join `paths` in order into `dest`; blocking (call it with asyncio.to_thread).

    `aspect`: the project's shape ("9:16"...), the film's canvas; None: the first clip's.

    `music`: an audio file, CALM for the generated loop, or None (the clips' own sound
    only). `words`: each clip's line, burned in and/or as a soft subtitle track.
    `narration`: per clip, an audio file spoken from its start (None: silent there),
    with the music ducked under it. `end_card`: a short closing card with these words.
    """
    if not paths:
        raise FilmError("no clips")
    try:
        clips = [clip_facts(p) for p in paths]
    except ClipError as error:
        raise FilmError(str(error)) from error
    if words is not None and len(words.lines) != len(clips):
        raise FilmError("one line of words per clip")
    if narration is not None and len(narration) != len(clips):
        raise FilmError("one narration file (or None) per clip")
    try:
        track = None if music is None else _music(music, clips)
    except soundtrack.SoundtrackError as error:
        raise FilmError(str(error)) from error
    try:
        spoken = [
            None if n is None else soundtrack.decode_audio(n, max_seconds=MAX_NARRATION_S)
            for n in (narration or [])
        ]
    except soundtrack.SoundtrackError as error:
        raise FilmError(f"narration: {error}") from None  # not the music: see projects.film
    sound = _Sound(track, spoken or None)
    crossfade_s = max(0.0, min(crossfade_s, MAX_CROSSFADE_S, *(c.duration_s / 3 for c in clips)))
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    burn = words is not None and words.burn and any(words.lines)
    plain = not title and not end_card and crossfade_s == 0 and not burn
    frame = film_size(clips[0], aspect)
    fits = aspect is None or (clips[0].width, clips[0].height) == frame
    method: Method = "copy" if (plain and fits and can_stream_copy(clips)) else "reencode"
    if force is not None:
        method = force if (force == "reencode" or plain) else "reencode"
    has_audio = False
    try:
        bitrate = None
        if method == "copy":
            has_audio = _remux(clips, part, sound, words)
        else:
            has_audio = _reencode(
                clips, part, title=title, crossfade_s=crossfade_s, threads=threads,
                sound=sound, words=words, end_card=end_card, size=frame,
            )  # fmt: skip
        size = part.stat().st_size
        duration = probe_mp4(part).duration_s
        for shrink in (1.0, 0.8, 0.6):
            if limit_bytes is None or size <= limit_bytes:
                break
            # One more encode at the bitrate that fits the cap, the audio's share left out.
            audio = _AUDIO_BITRATE if has_audio else 0
            total = int(limit_bytes * 8 * _SIZE_MARGIN * shrink / duration)
            bitrate = max(_MIN_BITRATE, total - audio)
            method = "reencode"
            has_audio = _reencode(
                clips, part, title=title, crossfade_s=crossfade_s, threads=threads,
                bitrate=bitrate, sound=sound, words=words, end_card=end_card, size=frame,
            )  # fmt: skip
            size = part.stat().st_size
        if limit_bytes is not None and size > limit_bytes:
            raise FilmTooLarge(size, limit_bytes)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    facts = probe_mp4(dest)
    return FilmResult(
        dest,
        method,
        facts.duration_s,
        facts.width,
        facts.height,
        facts.size_bytes,
        len(clips),
        bitrate,
        has_audio=has_audio,
        subtitles=words is not None and words.soft and any(words.lines),
    )


@dataclass(frozen=True, slots=True)
class _Sound:
    """What the film's audio is made from besides the clips: music and spoken lines."""

    music: soundtrack.Samples | None = None
    narration: list[soundtrack.Samples | None] | None = None  # one per clip


def _music(music: Path | str, clips: list[ClipFacts]) -> soundtrack.Samples:
    if music == CALM:
        return soundtrack.calm_loop()  # one cycle: fit_to_length loops it
    return soundtrack.decode_audio(Path(music))


def _clip_sound(clip: ClipFacts) -> soundtrack.Samples | None:
    """A clip's own sound (Kling, Vidu and Seedance can make it), or None if silent."""
    try:
        return soundtrack.decode_audio(clip.path, max_seconds=clip.duration_s + 1)
    except soundtrack.SoundtrackError:
        return None


def _sound(
    clips: list[ClipFacts], starts: list[float], length_s: float, sound: _Sound
) -> soundtrack.Samples | None:
    """The film's mixed audio: each clip's sound where it plays, each spoken line from its
    shot's start, and the music under both."""
    length = max(1, round(length_s * soundtrack.SAMPLE_RATE))
    voice = None
    for clip, start in zip(clips, starts, strict=True):
        own = _clip_sound(clip)
        if own is None:
            continue
        if voice is None:
            voice = np.zeros((2, length), np.float32)
        at = round(start * soundtrack.SAMPLE_RATE)
        piece = own[:, : max(0, min(round(clip.duration_s * soundtrack.SAMPLE_RATE), length - at))]
        voice[:, at : at + piece.shape[1]] += piece
    narration = None
    if sound.narration:
        lines = [
            (start, spoken)
            for spoken, start in zip(sound.narration, starts, strict=True)
            if spoken is not None
        ]
        narration = soundtrack.place_lines(length, lines) if lines else None
    return soundtrack.mix(length, sound.music, voice, narration)


def _cues(words: Words | None, starts: list[float], ends: list[float]) -> list[Cue]:
    if words is None:
        return []
    return [
        Cue(start, end, line)
        for line, start, end in zip(words.lines, starts, ends, strict=True)
        if line and line.strip()
    ]


def _extras(
    output: av.container.OutputContainer,
    clips: list[ClipFacts],
    starts: list[float],
    ends: list[float],
    length_s: float,
    sound: _Sound,
    words: Words | None,
) -> tuple[_Extras, bool]:
    """Streams for the film's sound and soft words on `output`, their packets made ahead."""
    extras = _Extras()
    mixed = _sound(clips, starts, length_s, sound)
    if mixed is not None:
        extras.add(soundtrack.encode_aac(output, mixed))
    cues = _cues(words, starts, ends)
    if words is not None and words.soft and cues:
        extras.add(add_soft_track(output, cues, words.language))
    return extras, mixed is not None


# --- stream copy ------------------------------------------------------------------------


def _remux(
    clips: list[ClipFacts],
    out: Path,
    sound: _Sound | None = None,
    words: Words | None = None,
) -> bool:
    """Concatenate packets, shifting each clip's timestamps to follow the previous one.

    Returns whether the film has a sound track.
    """
    ends = list(np.cumsum([c.duration_s for c in clips]))
    starts = [0.0, *ends[:-1]]
    with av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as output:
        with av.open(str(clips[0].path)) as first:
            ostream = output.add_stream_from_template(first.streams.video[0])
        extras, has_audio = _extras(
            output, clips, starts, ends, ends[-1], sound or _Sound(), words
        )
        offset = Fraction(0)  # seconds already written
        for clip in clips:
            with av.open(str(clip.path)) as container:
                stream = container.streams.video[0]
                tb = cast(Fraction, stream.time_base)  # a demuxed stream always has one
                start: int | None = None
                end = offset
                for packet in container.demux(stream):
                    if packet.dts is None and packet.pts is None:
                        continue  # the demuxer's empty flush packet
                    if start is None:
                        # one of the two is set: the empty packet was skipped above
                        start = packet.dts if packet.dts is not None else cast(int, packet.pts)
                    shift = int(offset / tb) - start
                    if packet.pts is not None:
                        packet.pts += shift
                    if packet.dts is not None:
                        packet.dts += shift
                    stamp = packet.pts if packet.pts is not None else cast(int, packet.dts)
                    end = max(end, (stamp + (packet.duration or 0)) * tb)
                    extras.until(output, float(stamp * tb))
                    packet.stream = ostream
                    output.mux(packet)
                offset = max(end, offset + Fraction(clip.duration_s).limit_denominator(1000))
        extras.rest(output)
    return has_audio


# --- re-encode --------------------------------------------------------------------------


def _even(value: int) -> int:
    return max(2, value - value % 2)


def film_size(first: ClipFacts, aspect: str | None) -> tuple[int, int]:
    """The film's canvas: the first clip's size where it has the project's shape (or the
    project has none), else that shape with the first clip's short side."""
    own = (_even(first.width), _even(first.height))
    if aspect is None or matching_aspect(first.width, first.height) == aspect:
        return own
    return canvas(aspect, min(own))


def _inner_size(width: int, height: int, size: tuple[int, int]) -> tuple[int, int]:
    """A `width`×`height` picture scaled to fit inside `size`, keeping its shape."""
    scale = min(size[0] / width, size[1] / height)
    inner = (_even(round(width * scale)), _even(round(height * scale)))
    # A pixel or two from rounding to even sides is no change of shape: fill the canvas.
    if abs(inner[0] - size[0]) <= 2 and abs(inner[1] - size[1]) <= 2:
        return size
    return min(inner[0], size[0]), min(inner[1], size[1])


def _frames(clip: ClipFacts, size: tuple[int, int], fps: Fraction) -> Iterator[av.VideoFrame]:
    """The clip at `size` in yuv420p, resampled to `fps` by timestamp (nearest earlier).

    Frames stay in the encoder's format: only crossfades go through RGB.
    """
    count = max(1, round(clip.duration_s * fps))
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        decoded = container.decode(stream)
        current = next(decoded, None)
        if current is None:
            raise FilmError(f"{clip.path.name}: no frames")
        upcoming = next(decoded, None)
        start = current.time or 0.0
        frame = _fit_frame(current, size)
        for index in range(count):
            at = start + float(index / fps)
            while upcoming is not None and (upcoming.time or 0.0) <= at + 1e-6:
                current, upcoming = upcoming, next(decoded, None)
                frame = _fit_frame(current, size)
            yield frame


def _fit_frame(frame: av.VideoFrame, size: tuple[int, int]) -> av.VideoFrame:
    """The frame on the film's canvas: scaled, and with bars where its shape differs."""
    if (frame.width, frame.height, frame.format.name) == (*size, "yuv420p"):
        return frame
    inner = _inner_size(frame.width, frame.height, size)
    scaled = frame.reformat(width=inner[0], height=inner[1], format="yuv420p")
    return scaled if inner == size else _boxed(scaled, size)


def _boxed(frame: av.VideoFrame, size: tuple[int, int]) -> av.VideoFrame:
    """`frame` (yuv420p, even sides) centred on a black canvas of `size`."""
    w, h = frame.width, frame.height
    width, height = size
    flat = frame.to_ndarray().ravel()
    luma = flat[: w * h].reshape(h, w)
    cb = flat[w * h : w * h * 5 // 4].reshape(h // 2, w // 2)
    cr = flat[w * h * 5 // 4 :].reshape(h // 2, w // 2)
    x, y = (width - w) // 4 * 2, (height - h) // 4 * 2  # even, so chroma lines up
    out_luma = np.full((height, width), 16, np.uint8)  # video-range black
    out_cb = np.full((height // 2, width // 2), 128, np.uint8)
    out_cr = np.full((height // 2, width // 2), 128, np.uint8)
    out_luma[y : y + h, x : x + w] = luma
    out_cb[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = cb
    out_cr[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = cr
    planes = np.concatenate([out_luma.ravel(), out_cb.ravel(), out_cr.ravel()])
    return av.VideoFrame.from_ndarray(planes.reshape(height * 3 // 2, width), format="yuv420p")


def _blend(a: av.VideoFrame, b: av.VideoFrame, share: float) -> av.VideoFrame:
    mixed = a.to_ndarray(format="rgb24") * (1 - share) + b.to_ndarray(format="rgb24") * share
    return av.VideoFrame.from_ndarray(mixed.astype(np.uint8), format="rgb24").reformat(
        format="yuv420p"
    )


def _reencode(
    clips: list[ClipFacts],
    out: Path,
    *,
    title: str | None,
    crossfade_s: float,
    threads: int,
    bitrate: int | None = None,
    sound: _Sound | None = None,
    words: Words | None = None,
    end_card: str | None = None,
    size: tuple[int, int] | None = None,
) -> bool:
    """One encode of the whole film on a `size` canvas (None: the first clip's);
    returns whether it has a sound track."""
    first = clips[0]
    size = size or (_even(first.width), _even(first.height))
    fps = first.fps if first.fps > 0 else Fraction(24)
    fade = round(crossfade_s * fps)
    # Where each source (title card, then clips) starts, in frames: each overlaps the one
    # before it by the crossfade.
    counts = [max(1, round(clip.duration_s * fps)) for clip in clips]
    lead = 1 if title else 0
    if title:
        counts.insert(0, max(1, round(TITLE_SECONDS * fps)))
    if end_card:
        counts.append(max(1, round(END_CARD_SECONDS * fps)))
    frame_starts = [sum(counts[:k]) - fade * k for k in range(len(counts))]
    total = sum(counts) - fade * (len(counts) - 1)
    clip_starts = frame_starts[lead : lead + len(clips)]
    clip_counts = counts[lead : lead + len(clips)]
    starts = [float(f / fps) for f in clip_starts]
    ends = [float((f + n) / fps) for f, n in zip(clip_starts, clip_counts, strict=True)]
    burn = Burner(_cues(words, starts, ends), size) if words is not None and words.burn else None
    with av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.thread_count = threads
        options: dict[str, object] = {"preset": _PRESET, "g": str(max(1, round(fps * 2)))}
        if bitrate is None:
            options["crf"] = str(_CRF)
        else:
            stream.codec_context.bit_rate = bitrate
            options.update(maxrate=str(bitrate), bufsize=str(bitrate * 2))
        stream.options = options
        extras, has_audio = _extras(
            output, clips, starts, ends, float(total / fps), sound or _Sound(), words
        )
        tick = 1 / fps
        pts = 0

        def write(frame: av.VideoFrame) -> None:
            nonlocal pts
            at = float(pts * tick)
            if burn is not None:
                frame = burn(frame, at)
            frame.pts, frame.time_base = pts, tick
            extras.until(output, at)
            output.mux(stream.encode(frame))
            pts += 1

        sources: list[Iterator[av.VideoFrame]] = []
        if title:
            card = av.VideoFrame.from_image(title_card(title, size)).reformat(format="yuv420p")
            sources.append(iter([card] * max(1, round(TITLE_SECONDS * fps))))
        sources.extend(_frames(clip, size, fps) for clip in clips)
        if end_card:
            closing = av.VideoFrame.from_image(end_card_image(end_card, size))
            closing = closing.reformat(format="yuv420p")
            sources.append(iter([closing] * max(1, round(END_CARD_SECONDS * fps))))
        tail: list[av.VideoFrame] = []  # the previous source's last `fade` frames, held back
        for source in sources:
            held: list[av.VideoFrame] = []
            for index, frame in enumerate(source):
                if index < len(tail):
                    frame = _blend(tail[index], frame, (index + 1) / (len(tail) + 1))
                held.append(frame)
                if len(held) > fade:
                    write(held.pop(0))
            tail = held
        for frame in tail:
            write(frame)
        output.mux(stream.encode(None))
        extras.rest(output)
    return has_audio


# --- title card -------------------------------------------------------------------------


def title_card(title: str, size: tuple[int, int]) -> Image.Image:
    """The project's title in thick letters on a warm ground, pressed into clay."""
    return _card(title, size, ground=(214, 168, 120), scale=7)


def end_card_image(text: str, size: tuple[int, int]) -> Image.Image:
    """The closing card ("made with Claymate"): smaller words on a darker clay ground."""
    return _card(text, size, ground=(150, 104, 78), scale=12)


def _card(
    title: str, size: tuple[int, int], *, ground: tuple[int, int, int], scale: int
) -> Image.Image:
    width, height = size
    card = Image.new("RGB", size, ground)
    draw = ImageDraw.Draw(card)
    font_size = max(12, height // scale)
    text = " ".join(title.split())[:60] or "…"
    font = load_font(font_size, text)
    while True:
        box = draw.textbbox((0, 0), text, font=font, stroke_width=max(1, font_size // 12))
        if box[2] - box[0] <= width * 0.88 or font_size <= 12:
            break
        font_size = int(font_size * 0.85)
        font = load_font(font_size, text)
    stroke = max(1, font_size // 12)
    x = (width - (box[2] - box[0])) // 2 - box[0]
    y = (height - (box[3] - box[1])) // 2 - box[1]
    draw.text((x + stroke, y + stroke), text, font=font, fill=(120, 70, 40), stroke_width=stroke)
    draw.text(
        (x, y),
        text,
        font=font,
        fill=(250, 236, 200),
        stroke_width=stroke,
        stroke_fill=(160, 60, 40),
    )
    return clay_still(card, seed=7, fast=True).convert("RGB").resize(size)
