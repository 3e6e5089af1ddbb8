"""Words on the film: each shot's line burned into the picture and as a soft subtitle track.

Burned-in text is what a phone shows in a chat, where players ignore subtitle tracks;
the soft track (MP4 `mov_text`) lets a desktop player, an editor or a screen reader have
the words as text. Chinese is drawn with the CJK font (bot/media/fonts.py), never boxes.

Burning works on the encoder's YUV planes directly: each cue is drawn once with Pillow,
turned into Y, U, V and alpha, and blended into the band it covers on each frame, so a
subtitle costs a small numpy blend per frame rather than an RGB round trip.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bot.media.fonts import load_font

MAX_LINES = 2
_TIME_BASE = Fraction(1, 1000)

# The style mov_text's encoder needs to open (an ASS header); players use their own.
_ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n"
    b"[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, "
    b"OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, "
    b"Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, "
    b"Encoding\nStyle: Default,Sans,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,"
    b"2,10,10,10,0\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, "
    b"MarginV, Effect, Text\n"
)
# The sample description (tx3g) FFmpeg's own mov_text encoder writes: default style.
_TX3G = bytes(
    [0, 0, 0, 0, 1, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x12]
    + [0xFF] * 4
    + [0, 0, 0, 0x12, *b"ftab", 0, 1, 0, 1, 5, *b"Serif"]
)


@dataclass(frozen=True, slots=True)
class Cue:
    """One line of words from `start_s` to `end_s` of the film."""

    start_s: float
    end_s: float
    text: str


def clean(text: str) -> str:
    """One line: whitespace collapsed (captions often carry line breaks and emoji spacing)."""
    return " ".join(text.split())


# --- soft track -------------------------------------------------------------------------


def add_soft_track(
    output: av.container.OutputContainer, cues: list[Cue], language: str
) -> list[av.Packet]:
    """A `mov_text` stream on `output` and its packets, to be muxed by the caller."""
    stream = output.add_stream("mov_text")
    stream.time_base = _TIME_BASE
    stream.codec_context.subtitle_header = _ASS_HEADER
    stream.codec_context.extradata = _TX3G
    stream.metadata["language"] = {"zh": "chi", "en": "eng"}.get(language, "und")
    packets = []
    for cue in cues:
        text = clean(cue.text).encode()[:65_000]
        packet = av.Packet(struct.pack(">H", len(text)) + text)
        start = round(cue.start_s * 1000)
        packet.stream = stream
        packet.pts = packet.dts = start
        packet.duration = max(1, round(cue.end_s * 1000) - start)
        packet.time_base = _TIME_BASE
        packets.append(packet)
    return packets


# --- burned in --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Overlay:
    top: int
    left: int
    rgb: np.ndarray  # (h, w, 3) float32
    luma: np.ndarray  # (h, w) float32
    chroma_u: np.ndarray  # (h/2, w/2)
    chroma_v: np.ndarray
    alpha: np.ndarray  # (h, w) 0..1
    alpha_half: np.ndarray  # (h/2, w/2)


class Burner:
    """Draws each cue onto the frames its time covers (yuv420p in, yuv420p out)."""

    def __init__(self, cues: list[Cue], size: tuple[int, int]) -> None:
        self.size = size
        self._cues = [(cue, _overlay(cue.text, size)) for cue in cues if clean(cue.text)]

    def __call__(self, frame: av.VideoFrame, at_s: float) -> av.VideoFrame:
        """`frame` with its words, if a cue covers `at_s` (the writer stamps its time)."""
        overlay = next((o for cue, o in self._cues if cue.start_s <= at_s < cue.end_s), None)
        if overlay is None:
            return frame
        width, height = self.size
        if height % 4 or width % 2:
            return self._burn_rgb(frame, overlay)
        # Only the band's rows are touched, in place on the frame's own planes: a full-frame
        # float copy per frame cost more than the encode.
        planes = frame.to_ndarray(format="yuv420p")  # Y rows, then U and V at quarter size
        y = planes[:height]
        u = planes[height : height + height // 4].reshape(height // 2, width // 2)
        v = planes[height + height // 4 :].reshape(height // 2, width // 2)
        h, w = overlay.luma.shape
        top, left = overlay.top, overlay.left
        _blend(y[top : top + h, left : left + w], overlay.luma, overlay.alpha)
        half = (slice(top // 2, top // 2 + h // 2), slice(left // 2, left // 2 + w // 2))
        _blend(u[half], overlay.chroma_u, overlay.alpha_half)
        _blend(v[half], overlay.chroma_v, overlay.alpha_half)
        return av.VideoFrame.from_ndarray(planes, format="yuv420p")

    def _burn_rgb(self, frame: av.VideoFrame, overlay: _Overlay) -> av.VideoFrame:
        """Odd sizes, where the chroma planes do not split evenly: the slow, simple way."""
        rgb = frame.to_ndarray(format="rgb24").astype(np.float32)
        h, w = overlay.luma.shape
        region = rgb[overlay.top : overlay.top + h, overlay.left : overlay.left + w]
        alpha = overlay.alpha[..., None]
        region *= 1 - alpha
        region += overlay.rgb * alpha
        burned = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24").reformat(
            format="yuv420p"
        )
        return burned


def _blend(target: np.ndarray, source: np.ndarray, alpha: np.ndarray) -> None:
    """`source` over the uint8 `target` view, in place."""
    mixed = target * (1 - alpha) + source * alpha
    target[...] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def _overlay(text: str, size: tuple[int, int]) -> _Overlay:
    """The cue drawn once: white letters with a dark outline on a soft dark band."""
    width, height = size
    font_size = max(12, round(min(width, height) * 0.055))
    font = load_font(font_size, text)
    lines = wrap(clean(text), font, int(width * 0.86))
    stroke = max(1, font_size // 10)
    line_height = round(font_size * 1.3)
    pad = font_size // 2
    band_h = _even(line_height * len(lines) + pad * 2)
    widths = [font.getlength(line) for line in lines]
    band_w = _even(min(width, int(max(widths)) + pad * 4))
    image = Image.new("RGBA", (band_w, band_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, band_w - 1, band_h - 1), radius=pad, fill=(20, 14, 10, 110))
    for index, line in enumerate(lines):
        x = (band_w - widths[index]) / 2
        y = pad + index * line_height
        draw.text(
            (x, y), line, font=font, fill=(255, 250, 240, 255), stroke_width=stroke,
            stroke_fill=(30, 20, 15, 255),
        )  # fmt: skip
    # A frame smaller than the band (a thumbnail-sized clip) shows the band's middle.
    if band_w > width or band_h > height:
        image = image.crop(
            ((band_w - min(band_w, width)) // 2, 0, (band_w + min(band_w, width)) // 2,
             min(band_h, _even(height)))
        )  # fmt: skip
        band_w, band_h = image.size
    rgba = np.asarray(image, dtype=np.float32)
    r, g, b, a = (rgba[..., i] for i in range(4))
    alpha = a / 255
    luma = 16 + 0.257 * r + 0.504 * g + 0.098 * b  # BT.601, limited range, as swscale
    cb = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    cr = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    top = _even(height - band_h - round(height * 0.06))
    left = _even((width - band_w) // 2)
    return _Overlay(
        top=max(0, top),
        left=max(0, left),
        rgb=rgba[..., :3],
        luma=luma,
        chroma_u=_half(cb),
        chroma_v=_half(cr),
        alpha=alpha,
        alpha_half=_half(alpha),
    )


def wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    """Lines that fit `width`: at spaces where there are any, else between characters
    (Chinese has no spaces); more than MAX_LINES end in an ellipsis."""
    lines: list[str] = []
    current = ""
    tokens = text.split(" ") if " " in text else list(text)
    joiner = " " if " " in text else ""
    for token in tokens:
        candidate = f"{current}{joiner}{token}" if current else token
        if font.getlength(candidate) <= width or not current:
            current = candidate
            continue
        lines.append(current)
        current = token
    if current:
        lines.append(current)
    if len(lines) > MAX_LINES:
        last = lines[MAX_LINES - 1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines = [*lines[: MAX_LINES - 1], last.rstrip() + "…"]
    return lines


def _half(plane: np.ndarray) -> np.ndarray:
    h, w = plane.shape
    return plane[: h - h % 2, : w - w % 2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _even(value: int) -> int:
    return max(2, value - value % 2)
