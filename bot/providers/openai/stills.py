"""Clay stills from the OpenAI images edit endpoint: the photo in, a picture out.

The model is a setting (CLAYMATE_IMAGE_MODEL) because image models are retired, each with
its own parameters. Every call asks for `quality="medium"` so cost and time are predictable, a
JPEG back (the video models take it as it is), and the photo's shape (providers.md 5.3).
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openai import OpenAIError

from bot.domain.errors import ErrorKind, ProviderError
from bot.media.stills import CLAY_STYLE, as_jpeg, aspect_ratio, reference_jpeg
from bot.providers.openai.client import MAX_RETRIES, openai_client, provider_error

if TYPE_CHECKING:
    from bot.config import Settings

DEFAULT_IMAGE_MODEL = "gpt-image-2"
IMAGE_SETTING = "CLAYMATE_IMAGE_MODEL"
QUALITY = "medium"
# The sizes every GPT image model takes, by the photo's nearest aspect.
STANDARD_SIZES = {
    "1:1": "1024x1024",
    "16:9": "1536x1024",
    "4:3": "1536x1024",
    "3:4": "1024x1536",
    "9:16": "1024x1536",
}
# gpt-image-2 and 2.5 take any WxH (multiples of 16, 1:3..3:1), so the still keeps the
# photo's own aspect and the clip made from it does too; the long side stays at 1536 or
# under, as the standard sizes do, since the pixel limits are not published.
EXACT_SIZES = {
    "1:1": "1024x1024",
    "16:9": "1536x864",
    "4:3": "1280x960",
    "3:4": "960x1280",
    "9:16": "864x1536",
}
_FREE_SIZE_MODELS = ("gpt-image-2", "gpt-image-2-2026-04-21")
_FREE_SIZE_PREFIXES = ("gpt-image-2.5-",)
# Only these models take `input_fidelity`; gpt-image-2 must not be sent it (providers.md 5.3).
_FIDELITY_MODELS = ("gpt-image-1.5",)


def still_size(model: str, aspect: str) -> str:
    """The size asked for: the photo's aspect exactly where the model allows it."""
    free = model in _FREE_SIZE_MODELS or model.startswith(_FREE_SIZE_PREFIXES)
    sizes = EXACT_SIZES if free else STANDARD_SIZES
    return sizes.get(aspect, "1024x1024")


def edit_params(model: str, aspect: str) -> dict[str, Any]:
    """The images edit parameters besides the photo and the prompt, valid for `model`."""
    params: dict[str, Any] = {
        "model": model,
        "quality": QUALITY,
        "size": still_size(model, aspect),
        "output_format": "jpeg",
        "n": 1,
    }
    if model in _FIDELITY_MODELS:
        params["input_fidelity"] = "high"  # keep the places and faces of the photo
    return params


class OpenAIStills:
    """The OpenAI images edit endpoint: the photo in, a clay picture (base64) out."""

    name = "openai"

    def __init__(
        self,
        api_key: str,
        base_url: str | None,
        model: str = DEFAULT_IMAGE_MODEL,
        *,
        timeout: float = 120.0,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        self.model = model
        self._base_url = base_url
        self._secret = api_key
        self._client = openai_client(api_key, base_url, timeout=timeout, max_retries=max_retries)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIStills:
        """Built from OPENAI_API_KEY, OPENAI_BASE_URL and CLAYMATE_IMAGE_*."""
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        return cls(
            key,
            settings.openai_base_url,
            settings.image_model,
            timeout=settings.image_timeout_s,
        )

    def __repr__(self) -> str:
        return f"OpenAIStills(model={self.model!r})"

    async def make(self, photo: Path, seed: int) -> bytes:
        """A clay JPEG of `photo`; the endpoint has no seed, so 🔄 Another simply asks again."""
        image = await asyncio.to_thread(reference_jpeg, photo)
        params = edit_params(self.model, await asyncio.to_thread(aspect_ratio, photo))
        try:
            result = await self._client.images.edit(
                image=("photo.jpg", image, "image/jpeg"), prompt=CLAY_STYLE, **params
            )
        except OpenAIError as exc:
            raise provider_error(
                exc,
                "openai images",
                setting=IMAGE_SETTING,
                model=self.model,
                base_url=self._base_url,
                secret=self._secret,
            ) from None
        data = result.data[0].b64_json if result.data else None
        if not data:
            raise ProviderError(ErrorKind.UNKNOWN, "openai images: no image in the answer")
        return await asyncio.to_thread(as_jpeg, base64.b64decode(data))

    async def aclose(self) -> None:
        """Close the OpenAI client."""
        await self._client.close()
