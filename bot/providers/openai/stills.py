"""Clay stills from the OpenAI images edit endpoint (gpt-image-1): the photo in, a picture out."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from bot.domain.errors import ErrorKind, ProviderError
from bot.media.stills import CLAY_STYLE, as_jpeg, aspect_ratio, reference_jpeg

OPENAI_IMAGE_MODEL = "gpt-image-1"


class OpenAIStills:
    """The OpenAI images edit endpoint: the photo in, a clay picture (base64) out."""

    name = "openai"

    def __init__(self, api_key: str, base_url: str | None, model: str = OPENAI_IMAGE_MODEL):
        # openai is imported here, not at the top: only a bot configured for it pays for it.
        from openai import AsyncOpenAI

        self.model = model
        self._client = AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=1)

    def __repr__(self) -> str:
        return f"OpenAIStills(model={self.model!r})"

    async def make(self, photo: Path, seed: int) -> bytes:
        """A clay JPEG of `photo`; the endpoint has no seed, so 🔄 Another simply asks again."""
        import openai

        image = await asyncio.to_thread(reference_jpeg, photo)
        wide = aspect_ratio(photo) in ("16:9", "4:3", "3:2")
        try:
            result = await self._client.images.edit(
                model=self.model,
                image=("photo.jpg", image, "image/jpeg"),
                prompt=CLAY_STYLE,
                size="1536x1024" if wide else "1024x1536",
                n=1,
            )
        except openai.AuthenticationError:
            raise ProviderError(ErrorKind.AUTH, "openai images: authentication") from None
        except openai.RateLimitError:
            raise ProviderError(ErrorKind.RATE_LIMITED, "openai images: rate limited") from None
        except openai.BadRequestError as exc:
            kind = ErrorKind.CONTENT if "safety" in str(exc).lower() else ErrorKind.INVALID
            raise ProviderError(kind, "openai images: request refused") from None
        except openai.APIError as exc:
            raise ProviderError(
                ErrorKind.TRANSIENT, f"openai images: {type(exc).__name__}"
            ) from None
        data = result.data[0].b64_json if result.data else None
        if not data:
            raise ProviderError(ErrorKind.UNKNOWN, "openai images: no image in the answer")
        return await asyncio.to_thread(as_jpeg, base64.b64decode(data))

    async def aclose(self) -> None:
        """Close the OpenAI client."""
        await self._client.close()
