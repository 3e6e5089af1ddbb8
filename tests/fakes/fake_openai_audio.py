"""The audio endpoints of the fake OpenAI server: transcriptions and speech.

`POST /v1/audio/transcriptions` takes multipart/form-data, as `audio.transcriptions.create`
sends it, and refuses what the real endpoint refuses: another content type ("Invalid
Content-Type header"), an unknown field, no `file`, a file whose name is not one of the
formats it lists, a file that does not decode as audio, over 25 MB, or a `language` that
is not ISO-639-1. It answers `{"text": ...}` (or plain text for `response_format=text`).

`POST /v1/audio/speech` takes JSON and refuses an unknown field, a voice that is not
built in, `input` empty or over 4096 characters, `instructions` on tts-1 / tts-1-hd, and
a `response_format` it does not make. It answers real audio in the format asked (a soft
tone, longer for longer input), so the bot decodes what a real answer would give it.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any, get_args

import av
import numpy as np
from openai.types import AudioModel
from openai.types.audio import SpeechModel

TRANSCRIBE_MODELS = frozenset(get_args(AudioModel))
SPEECH_MODELS = frozenset(get_args(SpeechModel))
VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar",
    "fable", "onyx", "nova",
)  # fmt: skip
TRANSCRIBE_FIELDS = frozenset(
    """file model language prompt response_format temperature timestamp_granularities[]
    include[] chunking_strategy stream known_speaker_names[]
    known_speaker_references[]""".split()
)
SPEECH_FIELDS = frozenset(
    "model input voice instructions response_format speed stream_format".split()
)
AUDIO_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
MAX_UPLOAD = 25 * 1024 * 1024
MAX_INPUT = 4096
CONTENT_TYPE_ERROR = (
    "Invalid Content-Type header ({content_type}), expected multipart/form-data. (HINT: If "
    "you're using curl, you can pass -F 'file=@path/to/file' in order to upload a file)"
)
_MEDIA_TYPES = {
    "mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
    "wav": "audio/wav", "pcm": "audio/pcm",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Binary:
    """A non-JSON answer body (speech audio, a plain-text transcript)."""

    content_type: str
    data: bytes


Answer = tuple[int, "dict[str, Any] | Binary"]


def error(status: int, message: str, code: str | None = None, param: str | None = None) -> Answer:
    body = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return status, {"error": body}


def transcription_refusal(
    content_type: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]]
) -> Answer | None:
    """What the transcriptions endpoint says about a request it does not take."""
    if not content_type.startswith("multipart/form-data"):
        return error(400, CONTENT_TYPE_ERROR.format(content_type=content_type or "none"))
    for name in [*fields, *files]:
        if name not in TRANSCRIBE_FIELDS:
            return error(400, f"Unknown parameter: '{name}'.", "unknown_parameter", name)
    if "file" not in files:
        return error(
            400, "[{'type': 'missing', 'loc': ('body', 'file'), 'msg': 'Field required'}]"
        )
    filename, data = files["file"]
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in AUDIO_FORMATS:
        listed = ", ".join(f"'{f}'" for f in AUDIO_FORMATS)
        return error(400, f"Invalid file format. Supported formats: [{listed}]", None, "file")
    if len(data) > MAX_UPLOAD:
        return error(413, "Maximum content size limit (26214400) exceeded.")
    if not _plays(data):
        return error(400, "Audio file might be corrupted or unsupported", "invalid_value", "file")
    language = fields.get("language")
    if language is not None and (len(language) != 2 or not language.isalpha()):
        message = (
            f"Invalid language '{language}'. Language parameter must be specified in "
            "ISO-639-1 format."
        )
        return error(400, message, "invalid_language_format", "language")
    if fields.get("response_format", "json") not in ("json", "text"):
        message = "response_format must be json or text for this model"
        return error(400, message, "unsupported_value", "response_format")
    return None


def transcript(text: str, response_format: str) -> Answer:
    if response_format == "text":
        return 200, Binary("text/plain; charset=utf-8", text.encode())
    return 200, {"text": text, "usage": {"type": "duration", "seconds": 3}}


def speech_refusal(request: dict[str, Any]) -> Answer | None:
    """What the speech endpoint says about a request it does not take."""
    for name in request:
        if name not in SPEECH_FIELDS:
            return error(400, f"Unknown parameter: '{name}'.", "unknown_parameter", name)
    voice = request.get("voice")
    if not (isinstance(voice, dict) and voice.get("id")) and voice not in VOICES:
        listed = ", ".join(f"'{v}'" for v in VOICES)
        message = f"Invalid value: '{voice}'. Supported values are: {listed}."
        return error(400, message, "invalid_value", "voice")
    text = request.get("input")
    if not isinstance(text, str) or not text:
        return error(400, "'input' is a required property", None, "input")
    if len(text) > MAX_INPUT:
        message = (
            f"Invalid 'input': string too long. Expected a string with maximum length "
            f"{MAX_INPUT}, but got a string with length {len(text)} instead."
        )
        return error(400, message, "string_above_max_length", "input")
    if "instructions" in request and request.get("model") in ("tts-1", "tts-1-hd"):
        message = "Unsupported parameter: 'instructions' is not supported with this model."
        return error(400, message, "unsupported_parameter", "instructions")
    if (fmt := request.get("response_format", "mp3")) not in SPEECH_FORMATS:
        listed = ", ".join(f"'{f}'" for f in SPEECH_FORMATS)
        return error(400, f"Invalid value: '{fmt}'. Supported values are: {listed}.")
    return None


def speech(text: str, fmt: str) -> Answer:
    """A soft 220 Hz tone as long as reading `text` might take (0.6-6 s), in `fmt`."""
    rate = 24_000
    seconds = min(6.0, 0.6 + 0.06 * len(text))
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    envelope = np.minimum(1.0, np.minimum(t, seconds - t) * 20)  # no clicks at the ends
    wave = (0.3 * envelope * np.sin(2 * math.pi * 220 * t)).astype(np.float32)
    if fmt == "pcm":
        return 200, Binary(_MEDIA_TYPES[fmt], (wave * 32767).astype("<i2").tobytes())
    container, codec = {
        "mp3": ("mp3", "libmp3lame"),
        "opus": ("ogg", "libopus"),
        "aac": ("adts", "aac"),
        "flac": ("flac", "flac"),
        "wav": ("wav", "pcm_s16le"),
    }[fmt]
    return 200, Binary(_MEDIA_TYPES[fmt], _encode(wave, rate, container, codec))


def _encode(wave: np.ndarray, rate: int, container_format: str, codec: str) -> bytes:
    buffer = io.BytesIO()
    out_rate = 48_000 if codec == "libopus" else rate
    with av.open(buffer, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=out_rate, layout="mono")
        context = stream.codec_context
        resampler = av.AudioResampler(
            format=context.format.name, layout="mono", rate=out_rate,
            frame_size=context.frame_size or None,
        )  # fmt: skip
        frame = av.AudioFrame.from_ndarray(wave[None, :], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(converted))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def _plays(data: bytes) -> bool:
    """Whether the upload decodes as audio, as the real endpoint checks before listening."""
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                return False
            return next(container.decode(audio=0), None) is not None
    except (av.FFmpegError, StopIteration, ValueError):
        return False


def parse_form(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """A multipart/form-data body: its text fields, and its files as (filename, bytes)."""
    import email.parser
    import email.policy

    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts() if message.is_multipart() else ():
        name = str(part.get_param("name", header="content-disposition") or "")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (str(filename), payload)
        else:
            fields[name] = payload.decode("utf-8")
    return fields, files
