"""Every user-facing sentence goes through `t()`, in Simplified Chinese and English.

Code names a message by key and passes values as keyword arguments; this module owns
the words. `tests/unit/test_i18n.py` fails when a key lacks either language or when the
languages disagree about which values they use.
"""

from __future__ import annotations

import string

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"


def language_for(code: str | None) -> str:
    """Map a Telegram language_code (or our own 'zh'/'en') onto a supported language."""
    if code and code.lower().startswith("zh"):
        return "zh"
    return DEFAULT_LANGUAGE


def t(key: str, lang: str | None = None, /, **values: object) -> str:
    """The message `key` in `lang`, with `values` filled in."""
    entry = CATALOG.get(key)
    if entry is None:
        raise KeyError(f"no message {key!r} in the catalogue")
    text = entry.get(language_for(lang)) or entry[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


CATALOG: dict[str, dict[str, str]] = {
    # --- intake: why a photo was refused, or what we changed about it ---------------------
    "intake.empty": {
        "en": "That file is empty. Please send the photo again.",
        "zh": "这个文件是空的，请重新发送照片。",
    },
    "intake.too_large": {
        "en": "That file is {size_mb} MB; I can take photos up to {limit_mb} MB. "
        "Please send it as a normal (compressed) photo instead.",
        "zh": "这个文件有 {size_mb} MB，我最多只能处理 {limit_mb} MB 的照片。请改为以普通（压缩）照片发送。",
    },
    "intake.not_image": {
        "en": "That doesn't look like a picture. Please send a photo (JPEG, PNG, WebP or HEIC).",
        "zh": "这看起来不是图片。请发送照片（JPEG、PNG、WebP 或 HEIC）。",
    },
    "intake.unsupported_format": {
        "en": "I can't use {format} images. Please send a JPEG, PNG, WebP or HEIC photo.",
        "zh": "我无法使用 {format} 格式的图片。请发送 JPEG、PNG、WebP 或 HEIC 照片。",
    },
    "intake.corrupt": {
        "en": "That image is damaged or incomplete, so I can't read it. "
        "Please send the photo again.",
        "zh": "这张图片已损坏或不完整，无法读取。请重新发送照片。",
    },
    "intake.bomb": {
        "en": "That image is far too large ({megapixels} megapixels). "
        "Please send a normal phone photo.",
        "zh": "这张图片太大了（{megapixels} 百万像素）。请发送普通的手机照片。",
    },
    "intake.animated": {
        "en": "That's an animated image. Please send a still photo; I'll do the animating.",
        "zh": "这是动图。请发送静态照片，动画交给我来做。",
    },
    "intake.too_small": {
        "en": "That photo is only {width}×{height} px. The video model needs at least "
        "{min_side} px on each side. Please send a larger photo.",
        "zh": "这张照片只有 {width}×{height} 像素，视频模型要求每边至少 {min_side} 像素。请发送更大的照片。",
    },
    "intake.cropped": {
        "en": "The photo was very {shape}, so I cropped its centre to {ratio} "
        "(the video model takes 1:2.5 to 2.5:1).",
        "zh": "这张照片太{shape}了，我截取了中间部分，比例为 {ratio}（视频模型支持 1:2.5 到 2.5:1）。",
    },
    "intake.shape.wide": {"en": "wide", "zh": "宽"},
    "intake.shape.tall": {"en": "tall", "zh": "高"},
    # --- provider failures, as users see them ----------------------------------------------
    "error.auth": {
        "en": "The video service isn't set up correctly right now. "
        "The bot's operator has been told; please try again later.",
        "zh": "视频服务目前配置有误，已通知机器人管理员，请稍后再试。",
    },
    "error.balance": {
        "en": "The video service account has run out of credit, so I can't make clips "
        "right now. The operator has been told.",
        "zh": "视频服务账户余额不足，暂时无法生成视频，已通知管理员。",
    },
    "error.permission": {
        "en": "This video model isn't available on the bot's account. "
        "Try another model in ⚙️ Settings.",
        "zh": "机器人账户无法使用这个视频模型。请在 ⚙️ 设置中换一个模型。",
    },
    "error.rate_limited": {
        "en": "The video service is busy. I'll keep trying for a while.",
        "zh": "视频服务繁忙，我会继续尝试一段时间。",
    },
    "error.busy": {
        "en": "The video service is busy. I'll keep trying for a while.",
        "zh": "视频服务繁忙，我会继续尝试一段时间。",
    },
    "error.invalid": {
        "en": "The video service refused these settings. "
        "Try another duration or quality, or a new draft.",
        "zh": "视频服务不接受这些设置。请换一个时长或画质，或重新生成草稿。",
    },
    "error.content": {
        "en": "The video service's content check refused this photo or prompt. "
        "Try another photo, or reword the description.",
        "zh": "视频服务的内容审核拒绝了这张照片或提示词。请换一张照片，或修改描述。",
    },
    "error.transient": {
        "en": "The video service had a problem and didn't recover in time. "
        "Please press Generate again.",
        "zh": "视频服务出现问题且未能及时恢复。请再次点击生成。",
    },
    "error.expired": {
        "en": "The finished clip expired on the video service before I could fetch it. "
        "Please press Generate again.",
        "zh": "视频在我下载之前已在服务端过期。请再次点击生成。",
    },
    "error.timeout": {
        "en": "The video took too long to render, so I stopped waiting. "
        "Please press Generate again.",
        "zh": "视频渲染时间过长，我已停止等待。请再次点击生成。",
    },
    "error.unknown": {
        "en": "Something went wrong while making the clip. Please press Generate again.",
        "zh": "生成视频时出了点问题。请再次点击生成。",
    },
    # --- the offline preview ------------------------------------------------------------------
    "preview.label": {
        "en": "Preview (offline clay look, not the video model)",
        "zh": "预览（离线黏土效果，并非视频模型生成）",
    },
}
