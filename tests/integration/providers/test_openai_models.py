"""Current OpenAI models as settings, against the fake with the real `openai` client.

The defaults are models the pinned SDK does not retire; a retired one (gpt-image-1, shut
down 2026-10-23) gives the operator one line naming the setting, and the user the usual
friendly message; the still asks for medium quality and the photo's shape.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import Image

from bot.domain.errors import ErrorKind, ProviderError, StudioError
from bot.domain.types import DraftRequest, Sender
from bot.i18n import t
from bot.media.sample import sample_photo
from bot.providers.openai.llm import LLMDrafter
from bot.providers.openai.stills import OpenAIStills
from bot.providers.registry import build_drafter, build_still_maker
from bot.wiring import Wiring, build_services
from tests.conftest import make_settings
from tests.fakes.fake_openai import CHAT_MODELS, IMAGE_MODELS, FakeOpenAI, Reply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def photo_file(tmp_path: Path, width: int, height: int) -> Path:
    path = tmp_path / f"photo-{width}x{height}.jpg"
    path.write_bytes(sample_photo(width=width, height=height))
    return path


def openai_settings(fake: FakeOpenAI, tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    return make_settings(
        tmp_path,
        openai_api_key=fake.api_key,
        openai_base_url=fake.base_url,
        still_provider="openai",
        **overrides,
    )


def request() -> DraftRequest:
    return DraftRequest(description="little boats on the river", language="en")


def test_the_defaults_are_models_the_fake_serves(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.llm_model == "gpt-5.4-mini" and settings.llm_model in CHAT_MODELS
    assert settings.image_model == "gpt-image-2" and settings.image_model in IMAGE_MODELS
    assert "gpt-image-1" not in IMAGE_MODELS and "gpt-4o-mini" in CHAT_MODELS


async def test_the_default_llm_model_is_sent_only_what_it_takes(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    drafter = build_drafter(openai_settings(fake, tmp_path))
    assert isinstance(drafter, LLMDrafter)
    try:
        draft = await drafter.draft(request())
    finally:
        await drafter.aclose()
    assert draft.drafter.startswith("llm:gpt-5.4-mini/")  # not the offline fallback
    [body] = fake.chat_requests()
    assert body["model"] == "gpt-5.4-mini"
    assert "max_tokens" not in body and "temperature" not in body
    assert body["max_completion_tokens"] > 0 and body["reasoning_effort"] == "low"


@pytest.mark.parametrize(
    ("size", "asked"),
    [((480, 360), "1280x960"), ((400, 400), "1024x1024"), ((360, 640), "864x1536")],
)
async def test_the_default_still_is_medium_quality_in_the_photos_shape(
    fake: FakeOpenAI, tmp_path: Path, size: tuple[int, int], asked: str
) -> None:
    maker = build_still_maker(openai_settings(fake, tmp_path))
    try:
        jpeg = await maker.make(photo_file(tmp_path, *size), seed=1)
    finally:
        await maker.aclose()  # type: ignore[attr-defined]
    [edit] = fake.edits
    assert edit["model"] == "gpt-image-2" and edit["quality"] == "medium"
    assert edit["size"] == asked and edit["images"] == 1 and edit["n"] == "1"
    assert "input_fidelity" not in edit and "response_format" not in edit
    assert edit["output_format"] == "jpeg"
    still = Image.open(io.BytesIO(jpeg))
    assert still.format == "JPEG" and f"{still.width}x{still.height}" == asked


async def test_a_model_with_standard_sizes_only_gets_one_of_them(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    maker = OpenAIStills(fake.api_key, fake.base_url, "gpt-image-1.5")
    try:
        await maker.make(photo_file(tmp_path, 640, 360), seed=1)
    finally:
        await maker.aclose()
    [edit] = fake.edits
    assert edit["size"] == "1536x1024" and edit["input_fidelity"] == "high"


async def test_the_fake_refuses_what_the_images_endpoint_refuses(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    from openai import AsyncOpenAI, BadRequestError, NotFoundError

    client = AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
    image = ("p.jpg", sample_photo(width=320, height=320), "image/jpeg")

    async def refusal(**params: object) -> str:
        try:
            await client.images.edit(image=image, prompt="clay", **params)  # type: ignore[call-overload]
        except (BadRequestError, NotFoundError) as exc:
            return f"{exc.status_code} {exc.code}"
        return ""

    try:
        assert await refusal(model="gpt-image-2", input_fidelity="high") == (
            "400 unsupported_parameter"
        )
        assert await refusal(model="gpt-image-2", quality="xhigh") == "400 invalid_value"
        assert await refusal(model="gpt-image-1.5", size="1536x864") == "400 invalid_value"
        assert await refusal(model="gpt-image-2", size="1000x1000") == "400 invalid_value"
        assert await refusal(model="gpt-image-2", response_format="b64_json") == (
            "400 unknown_parameter"
        )
        assert await refusal(model="gpt-image-1") == "404 model_not_found"
        assert await refusal(model="gpt-image-2", size="1536x864", quality="medium") == ""
    finally:
        await client.close()


async def test_a_wrong_key_is_refused_with_openais_error_shape(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    wrong = "sk-wrong-key-000000000000"
    maker = OpenAIStills(wrong, fake.base_url)
    try:
        with pytest.raises(ProviderError) as error:
            await maker.make(photo_file(tmp_path, 400, 400), seed=1)
    finally:
        await maker.aclose()
    assert error.value.kind is ErrorKind.AUTH
    assert "OPENAI_API_KEY" in str(error.value) and wrong not in str(error.value)
    assert fake.edits == []  # refused before anything was read


@pytest.fixture
async def retired(fake: FakeOpenAI, tmp_path: Path, database_url: str) -> AsyncIterator[Wiring]:
    settings = openai_settings(
        fake, tmp_path, database_url=database_url, image_model="gpt-image-1"
    )
    built = await build_services(settings, migrate=False)
    try:
        yield built
    finally:
        await built.aclose()


async def test_a_retired_image_model_gives_one_operator_line_and_the_user_a_kind_reply(
    fake: FakeOpenAI, retired: Wiring, caplog: pytest.LogCaptureFixture
) -> None:
    services = retired.services
    actor = await services.accounts.enter(Sender(user_id=5, chat_id=5))
    outcome = await services.drafting.add_photo(
        actor, sample_photo(width=480, height=360), "boats glide"
    )
    assert outcome.revision is not None
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StudioError) as failed:
        await services.stills.make(actor, outcome.revision.id)
    assert failed.value.key == "still.failed"
    assert t("still.failed", "en").startswith("Sorry")
    host = f"127.0.0.1:{fake.port}"
    line = (
        f"CLAYMATE_IMAGE_MODEL=gpt-image-1 is not available at {host}: "
        "set CLAYMATE_IMAGE_MODEL to a model your provider lists"
    )
    naming = [r for r in caplog.records if "CLAYMATE_IMAGE_MODEL" in r.getMessage()]
    assert len(naming) == 1 and line in naming[0].getMessage()
    assert naming[0].levelno == logging.WARNING
    assert fake.api_key not in caplog.text
    assert len(fake.edits) == 1  # a missing model is not retried


async def test_a_retired_llm_model_falls_back_offline_with_one_operator_line(
    fake: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    drafter = build_drafter(openai_settings(fake, tmp_path, llm_model="o4-mini"))
    try:
        draft = await drafter.draft(request())
    finally:
        await drafter.aclose()  # type: ignore[attr-defined]
    assert draft.drafter == "offline" and draft.prompt
    naming = [r.getMessage() for r in caplog.records if "CLAYMATE_LLM_MODEL" in r.getMessage()]
    assert naming == [
        "LLM drafter llm:o4-mini/clay_director_v2 fell back to the offline drafter: "
        f"CLAYMATE_LLM_MODEL=o4-mini is not available at 127.0.0.1:{fake.port}: "
        "set CLAYMATE_LLM_MODEL to a model your provider lists"
    ]
    assert fake.api_key not in caplog.text
    assert len(fake.chat_requests()) == 1


async def test_a_compatible_servers_missing_model_is_read_the_same_way(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    # Ollama: 404 "model ... not found, try pulling it first", no code.
    fake.push_image(
        Reply(
            status=404,
            message='model "clay-xl" not found, try pulling it first',
            error_type="api_error",
        )
    )
    maker = OpenAIStills(fake.api_key, fake.base_url, "gpt-image-2")
    try:
        with pytest.raises(ProviderError) as error:
            await maker.make(photo_file(tmp_path, 400, 400), seed=1)
    finally:
        await maker.aclose()
    assert error.value.kind is ErrorKind.PERMISSION
    assert "set CLAYMATE_IMAGE_MODEL to a model your provider lists" in error.value.detail


async def test_a_moderated_still_is_the_users_doing_and_not_retried(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.modes.add("moderate")
    maker = OpenAIStills(fake.api_key, fake.base_url)
    try:
        with pytest.raises(ProviderError) as error:
            await maker.make(photo_file(tmp_path, 400, 400), seed=1)
    finally:
        await maker.aclose()
    assert error.value.kind is ErrorKind.CONTENT and not error.value.retryable
    assert len(fake.edits) == 1


async def test_a_server_error_is_retried_once_by_the_sdk(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.push_image(Reply(status=500, message="boom"), Reply(status=500, message="boom"))
    maker = OpenAIStills(fake.api_key, fake.base_url)
    try:
        with pytest.raises(ProviderError) as error:
            await maker.make(photo_file(tmp_path, 400, 400), seed=1)
    finally:
        await maker.aclose()
    assert error.value.kind is ErrorKind.TRANSIENT and error.value.retryable
    assert len(fake.edits) == 2  # the call and its one retry


async def test_a_check_before_going_live_names_the_setting_without_generating(
    fake: FakeOpenAI,
) -> None:
    from bot.providers.openai.client import model_problem, openai_client

    good = openai_client(fake.api_key, fake.base_url, timeout=5)
    wrong = openai_client("sk-wrong-key-000000000000", fake.base_url, timeout=5)
    where = {"setting": "CLAYMATE_IMAGE_MODEL", "base_url": fake.base_url}
    try:
        served = await model_problem(good, model="gpt-image-2", secret=fake.api_key, **where)
        retired = await model_problem(good, model="gpt-image-1", secret=fake.api_key, **where)
        refused = await model_problem(
            wrong, model="gpt-image-2", secret="sk-wrong-key-000000000000", **where
        )
    finally:
        await good.close()
        await wrong.close()
    assert served is None
    assert retired == (
        f"CLAYMATE_IMAGE_MODEL=gpt-image-1 is not available at 127.0.0.1:{fake.port}: "
        "set CLAYMATE_IMAGE_MODEL to a model your provider lists"
    )
    assert refused is not None and refused.startswith("OPENAI_API_KEY was refused")
    assert "sk-wrong" not in refused
    assert fake.edits == [] and fake.chat_requests() == []  # nothing paid for
