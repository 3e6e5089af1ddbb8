"""A film's soundtrack: the user's song (or a calm offline loop) fitted under the pictures.

The music is trimmed or looped to the film's length with fades in and out, ducked under
any sound the clips carry and any narration, and the mix brought to about -16 LUFS
integrated, the level phones and social feeds play at. Loudness is measured with
FFmpeg's EBU R128 meter (the `ebur128` filter, through PyAV), so the number means what a
broadcaster's meter says.
Everything here is blocking CPU work on arrays: call it from a worker thread.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import av.filter
import numpy as np

SAMPLE_RATE = 48_000
TARGET_LUFS = -16.0
FADE_IN_S = 1.0
FADE_OUT_S = 2.5
DUCK_DB = -12.0  # music under clip sound or narration: clearly behind, still there
NARRATION_DUCK_DB = -6.0  # a clip's own sound under narration: still heard, not in the way
NARRATION_LEAD_S = 0.25  # a line starts just after its shot does, not on the cut
PEAK_CEILING = 0.93  # about -0.6 dBFS, room for the AAC encoder's overshoot
MAX_MUSIC_SECONDS = 15 * 60  # decoding stops here: a film is minutes, not an album
_BLOCK = 4_800  # 0.1 s, the chunk pushed through filter graphs

Samples = np.ndarray  # float32, shape (2, n), at SAMPLE_RATE


class SoundtrackError(Exception):
    """The audio file cannot be used (not audio, no audio stream, or empty)."""


def decode_audio(path: Path, *, max_seconds: float = MAX_MUSIC_SECONDS) -> Samples:
    """The file's first audio stream as stereo float samples at 48 kHz."""
    limit = int(max_seconds * SAMPLE_RATE)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise SoundtrackError(f"{path.name}: no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
            chunks: list[np.ndarray] = []
            total = 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
                    total += chunks[-1].shape[1]
                if total >= limit:
                    break
            else:
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray())
    except av.FFmpegError as error:
        raise SoundtrackError(f"{path.name}: not a playable audio file") from error
    if not chunks:
        raise SoundtrackError(f"{path.name}: no audio in it")
    samples = np.concatenate(chunks, axis=1)[:, :limit].astype(np.float32)
    if samples.shape[1] < SAMPLE_RATE // 2:
        raise SoundtrackError(f"{path.name}: shorter than half a second")
    return samples


def integrated_loudness(samples: Samples) -> float:
    """EBU R128 integrated loudness in LUFS; -70 (the meter's floor) for silence."""
    graph = av.filter.Graph()
    source = graph.add_abuffer(
        format="fltp", sample_rate=SAMPLE_RATE, layout="stereo", time_base=Fraction(1, SAMPLE_RATE)
    )
    meter = graph.add("ebur128", "metadata=1:peak=none")
    sink = graph.add("abuffersink")
    source.link_to(meter)
    meter.link_to(sink)
    graph.configure()
    reading = "-70"
    for start in range(0, samples.shape[1], _BLOCK):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, start : start + _BLOCK]),
            format="fltp",
            layout="stereo",
        )
        frame.sample_rate, frame.pts = SAMPLE_RATE, start
        graph.push(frame)
        reading = _drain(graph, reading)
    graph.push(None)
    reading = _drain(graph, reading)
    value = float(reading)
    return value if math.isfinite(value) else -70.0


def _drain(graph: av.filter.Graph, reading: str) -> str:
    while True:
        try:
            frame = graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return reading
        reading = frame.metadata.get("lavfi.r128.I", reading)


def fit_to_length(music: Samples, length: int) -> Samples:
    """Loop or trim to `length` samples, fading in at the start and out at the end."""
    if music.shape[1] >= length:
        fitted = music[:, :length].copy()
    else:
        # Loops meet with a short crossfade, so the seam does not click.
        seam = min(SAMPLE_RATE // 4, music.shape[1] // 4)
        ramp = np.linspace(0.0, 1.0, seam, dtype=np.float32)
        loop = music.copy()
        loop[:, :seam] *= ramp
        loop[:, -seam:] *= ramp[::-1]
        step = music.shape[1] - seam
        fitted = np.zeros((2, length), np.float32)
        for start in range(0, length, step):
            piece = loop[:, : length - start]
            fitted[:, start : start + piece.shape[1]] += piece
        fitted[:, :seam] = music[:, :seam]  # the very start needs no fade from a seam
    fade_in = min(int(FADE_IN_S * SAMPLE_RATE), length // 4)
    fade_out = min(int(FADE_OUT_S * SAMPLE_RATE), length // 3)
    if fade_in:
        fitted[:, :fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)
    if fade_out:
        fitted[:, -fade_out:] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)
    return fitted


def duck_under(music: Samples, voice: Samples, *, duck_db: float = DUCK_DB) -> Samples:
    """Music lowered by `duck_db` wherever `voice` (clip sound, narration) is audible.

    The gain follows a smoothed envelope of the voice (fast to duck, slow to recover), so
    the music dips under speech and comes back between lines without pumping.
    """
    block = SAMPLE_RATE // 50  # 20 ms
    blocks = math.ceil(voice.shape[1] / block)
    padded = np.zeros((2, blocks * block), np.float32)
    padded[:, : voice.shape[1]] = voice
    rms = np.sqrt(np.mean(padded.reshape(2, blocks, block) ** 2, axis=(0, 2)))
    active = (rms > 10 ** (-45 / 20)).astype(np.float32)  # above -45 dBFS: something to hear
    envelope = np.empty_like(active)
    level = 0.0
    for index, value in enumerate(active):
        # attack in about two blocks (40 ms), release over about 25 (0.5 s)
        level += (value - level) * (0.5 if value > level else 0.04)
        envelope[index] = level
    floor = 10 ** (duck_db / 20)
    gain = 1.0 - (1.0 - floor) * np.repeat(envelope, block)[: music.shape[1]]
    if gain.shape[0] < music.shape[1]:
        gain = np.pad(gain, (0, music.shape[1] - gain.shape[0]), constant_values=1.0)
    return (music * gain).astype(np.float32)


def to_loudness(samples: Samples, target_lufs: float = TARGET_LUFS) -> Samples:
    """Gain to `target_lufs`, then peaks above the ceiling softly limited.

    The limiter only touches the loudest instants, so the integrated loudness stays
    within a fraction of a LU of the target.
    """
    loudness = integrated_loudness(samples)
    if loudness <= -69.0:
        return samples  # silence stays silence
    gained = samples * np.float32(10 ** ((target_lufs - loudness) / 20))
    peak = float(np.max(np.abs(gained))) if gained.size else 0.0
    if peak > PEAK_CEILING:
        knee = PEAK_CEILING * 0.8
        over = np.abs(gained) > knee
        span = PEAK_CEILING - knee
        gained[over] = np.sign(gained[over]) * (
            knee + span * np.tanh((np.abs(gained[over]) - knee) / span)
        )
    return gained.astype(np.float32)


def mix(
    length: int,
    music: Samples | None,
    voice: Samples | None,
    narration: Samples | None = None,
) -> Samples | None:
    """The film's audio: music fitted and ducked under the clips' own sound and any
    narration (the clips' sound dipped a little under the narration too), at -16 LUFS.

    None when there is nothing to hear (no music, silent clips, no narration): the film
    then has no audio stream at all, rather than a silent one.
    """
    has_voice = voice is not None and integrated_loudness(voice) > -69.0
    has_words = narration is not None and integrated_loudness(narration) > -69.0
    if music is None and not has_voice and not has_words:
        return None
    spoken = np.zeros((2, length), np.float32)
    if has_voice:
        assert voice is not None
        clip_sound = voice[:, :length]
        if has_words:
            assert narration is not None
            clip_sound = duck_under(clip_sound, narration[:, :length], duck_db=NARRATION_DUCK_DB)
        spoken[:, : clip_sound.shape[1]] += clip_sound
    if has_words:
        assert narration is not None
        spoken[:, : min(length, narration.shape[1])] += narration[:, :length]
    bed = np.zeros((2, length), np.float32)
    if music is not None:
        fitted = to_loudness(fit_to_length(music, length), TARGET_LUFS)
        if has_voice or has_words:
            fitted = duck_under(fitted, spoken)
        bed += fitted
    bed += spoken
    return to_loudness(bed)


def place_lines(length: int, lines: list[tuple[float, Samples]]) -> Samples:
    """Spoken lines on one track of `length` samples, each from its start (in seconds).

    Each line is brought to the target loudness on its own (speech engines differ by
    several dB) and stops, with a short fade, where the next line starts or the film
    ends, so two lines never talk over each other.
    """
    track = np.zeros((2, length), np.float32)
    ordered = sorted(lines, key=lambda line: line[0])
    fade = SAMPLE_RATE // 20  # 50 ms: a cut line ends softly, not with a click
    for index, (start_s, samples) in enumerate(ordered):
        at = max(0, round((start_s + NARRATION_LEAD_S) * SAMPLE_RATE))
        stop = length
        if index + 1 < len(ordered):
            stop = min(stop, max(at, round(ordered[index + 1][0] * SAMPLE_RATE)))
        piece = to_loudness(samples, TARGET_LUFS)[:, : max(0, stop - at)].copy()
        if piece.shape[1] == 0:
            continue
        if at + samples.shape[1] > stop:  # cut short: fade its last moment out
            tail = min(fade, piece.shape[1])
            piece[:, -tail:] *= np.linspace(1.0, 0.0, tail, dtype=np.float32)
        track[:, at : at + piece.shape[1]] += piece
    return track


def calm_loop(seconds: float = 8.0) -> Samples:
    """A gentle generated pad and music-box line: the offline default, free of any licence.

    Four soft chords (I–vi–IV–V in C), each two seconds, with a slow plucked arpeggio
    above; one 8 s cycle by default, which fit_to_length loops to the film's length.
    Deterministic, so the same film gets the same music.
    """
    length = max(1, int(seconds * SAMPLE_RATE))
    t = np.arange(length, dtype=np.float32) / np.float32(SAMPLE_RATE)
    chords = [(261.63, 329.63, 392.00), (220.00, 261.63, 329.63),
              (174.61, 220.00, 261.63), (196.00, 246.94, 293.66)]  # fmt: skip
    bar = 2.0
    index = (t // bar).astype(np.int32) % len(chords)
    within = t % bar
    swell = np.sin(np.pi * within / bar) ** 2  # each chord breathes in and out
    pad = np.zeros(length, np.float32)
    for voice in range(3):
        freqs = np.array([c[voice] for c in chords], np.float64)[index]
        phase = (2 * np.pi * np.cumsum(freqs) / SAMPLE_RATE).astype(np.float32)
        pad += np.sin(phase) + 0.3 * np.sin(2 * phase)
    pad *= 0.08 * swell
    step = bar / 4
    notes = (t // step).astype(np.int32)
    since = t - notes * np.float32(step)
    tones = np.array([c[n % 3] * 2 for c in chords for n in range(4)], np.float32)
    freq = tones[notes % len(tones)]
    pluck = 0.12 * np.sin(2 * np.pi * freq * since) * np.exp(-since * 5.0)
    return np.stack([pad + pluck * 0.8, pad * 0.95 + pluck]).astype(np.float32)


def encode_aac(output: av.container.OutputContainer, samples: Samples) -> list[av.Packet]:
    """AAC packets for `samples` on a new stream of `output` (muxed by the caller).

    Encoding ahead lets the caller interleave audio with video by time, so a player
    streaming the film never waits for audio stored minutes away.
    """
    stream = output.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
    stream.codec_context.bit_rate = 128_000
    stream.time_base = Fraction(1, SAMPLE_RATE)
    packets: list[av.Packet] = []
    frame_size = 1024
    for start in range(0, samples.shape[1], frame_size):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, start : start + frame_size]),
            format="fltp",
            layout="stereo",
        )
        frame.sample_rate, frame.pts = SAMPLE_RATE, start
        frame.time_base = Fraction(1, SAMPLE_RATE)
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode(None))
    return packets
