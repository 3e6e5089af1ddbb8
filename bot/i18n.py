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
    "error.too_large": {
        "en": "The clip came out larger than Telegram lets bots send. "
        "Try a 5 s clip or standard quality.",
        "zh": "生成的视频超过了 Telegram 机器人的发送上限。请试试 5 秒或标准画质。",
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
    # --- the Telegram conversation ------------------------------------------------------------
    "start.text": {
        "en": "👋 <b>Claymate</b> turns a photo into a little clay-animation clip.\n\n"
        "1. Send me a photo with a one-line caption saying what should move.\n"
        "2. I draft a clay-animation prompt; reply to it with changes until you like it.\n"
        "3. Press 🎬 Generate and I send you the clip. ⭐ Keep the best takes.\n\n"
        "A good caption names the motion in simple words, for example:\n"
        "<i>“Boats glide along the river, lights flicker on along the Bund, clouds drift.”</i>\n\n"
        "/new <i>title</i> starts a project · /projects shows your projects · /help",
        "zh": "👋 <b>Claymate</b> 把照片变成黏土定格动画小片段。\n\n"
        "1. 发一张照片，配一句话说明画面里什么在动。\n"
        "2. 我会写一段黏土动画提示词；回复它提出修改，直到满意。\n"
        "3. 点 🎬 生成，我把视频发给你。用 ⭐ 保留最好的镜头。\n\n"
        "好的说明用简单的词描述动作，例如：\n"
        "<i>“小船在江面滑行，外滩的灯一盏盏亮起，云慢慢飘过。”</i>\n\n"
        "/new <i>标题</i> 新建项目 · /projects 查看项目 · /help",
    },
    "menu.start": {"en": "What Claymate does", "zh": "Claymate 能做什么"},
    "menu.help": {"en": "How to write a good description", "zh": "如何写好描述"},
    "menu.new": {"en": "Start a new project", "zh": "新建项目"},
    "menu.projects": {"en": "Your projects and clips", "zh": "你的项目和视频"},
    "hint.send_photo": {
        "en": "Send me a photo with a one-line caption, and I'll draft a clay animation. "
        "To change a draft, reply to it. /help",
        "zh": "发一张照片并配一句说明，我来写黏土动画草稿。要修改草稿，请回复那条消息。/help",
    },
    "ask.description": {
        "en": "📷 Got the photo. What should move in it? Reply to this message with one line, "
        "or let me draft from the photo alone.",
        "zh": "📷 收到照片。画面里什么在动？请回复这条消息写一句话，或者让我只根据照片来写。",
    },
    "button.draft_from_photo": {"en": "✨ Draft from the photo", "zh": "✨ 直接根据照片写"},
    "draft.title": {
        "en": "🎨 <b>Draft {number}</b> · shot {position} · {project}",
        "zh": "🎨 <b>草稿 {number}</b> · 镜头 {position} · {project}",
    },
    "draft.negative": {"en": "Avoid", "zh": "避免"},
    "draft.settings": {
        "en": "⚙️ {provider} · {model} · {mode} · {duration} s · camera: {camera}",
        "zh": "⚙️ {provider} · {model} · {mode} · {duration} 秒 · 镜头：{camera}",
    },
    "draft.reply_hint": {
        "en": "<i>Reply to this message to change it, e.g. “slower, at night”.</i>",
        "zh": "<i>回复这条消息即可修改，例如“慢一点，改成夜景”。</i>",
    },
    "draft.refine_hint": {
        "en": "✏️ Reply to the draft with what to change.",
        "zh": "✏️ 回复草稿消息，写下要修改的地方。",
    },
    "draft.nothing_to_undo": {
        "en": "This is the first draft: nothing to undo.",
        "zh": "这已经是第一版草稿，无法撤销。",
    },
    "draft.cancelled": {
        "en": "✖ Shot cancelled. Send another photo whenever you like.",
        "zh": "✖ 已取消这个镜头。随时可以再发照片。",
    },
    "draft.not_found": {
        "en": "That draft is no longer available. Send the photo again to start over.",
        "zh": "这份草稿已不可用。请重新发送照片。",
    },
    "draft.busy": {
        "en": "✍️ Drafting…",
        "zh": "✍️ 正在写草稿…",
    },
    "refine.empty": {
        "en": "Tell me what to change, in a few words.",
        "zh": "请用几个字说明要改什么。",
    },
    "settings.invalid": {"en": "That setting isn't available.", "zh": "没有这个设置。"},
    "settings.title": {
        "en": "⚙️ Choose duration, quality and camera move:",
        "zh": "⚙️ 选择时长、画质和镜头运动：",
    },
    "button.generate": {"en": "🎬 Generate", "zh": "🎬 生成"},
    "button.refine": {"en": "✏️ Refine", "zh": "✏️ 修改"},
    "button.redraft": {"en": "🔄 New draft", "zh": "🔄 重写"},
    "button.settings": {"en": "⚙️ Settings", "zh": "⚙️ 设置"},
    "button.undo": {"en": "↩️ Undo", "zh": "↩️ 撤销"},
    "button.cancel": {"en": "✖ Cancel", "zh": "✖ 取消"},
    "button.back": {"en": "⬅️ Back", "zh": "⬅️ 返回"},
    "button.again": {"en": "🔁 Again", "zh": "🔁 再来一次"},
    "button.keep": {"en": "⭐ Keep", "zh": "⭐ 保留"},
    "button.kept": {"en": "⭐ Kept", "zh": "⭐ 已保留"},
    "button.open_shot": {"en": "✏️ Shot {position}", "zh": "✏️ 镜头 {position}"},
    "camera.static": {"en": "static", "zh": "固定"},
    "camera.push_in": {"en": "push in", "zh": "推进"},
    "camera.pull_out": {"en": "pull out", "zh": "拉远"},
    "camera.pan_left": {"en": "pan left", "zh": "左摇"},
    "camera.pan_right": {"en": "pan right", "zh": "右摇"},
    "camera.tilt_up": {"en": "tilt up", "zh": "上仰"},
    "camera.tilt_down": {"en": "tilt down", "zh": "下俯"},
    "camera.orbit": {"en": "orbit", "zh": "环绕"},
    "mode.std": {"en": "standard", "zh": "标准"},
    "mode.pro": {"en": "pro", "zh": "高品质"},
    "status.queued": {"en": "⏳ Queued…", "zh": "⏳ 排队中…"},
    "status.queued_position": {
        "en": "⏳ Queued: {position} ahead of you…",
        "zh": "⏳ 排队中：前面还有 {position} 个…",
    },
    "status.submitted": {"en": "📤 Sent to {provider}…", "zh": "📤 已提交给 {provider}…"},
    "status.rendering": {"en": "🎞 Rendering… {elapsed}", "zh": "🎞 渲染中… {elapsed}"},
    "status.rendering_progress": {
        "en": "🎞 Rendering… {percent}% · {elapsed}",
        "zh": "🎞 渲染中… {percent}% · {elapsed}",
    },
    "status.downloading": {"en": "⬇️ Fetching the clip…", "zh": "⬇️ 正在下载视频…"},
    "status.delivering": {"en": "📤 Uploading…", "zh": "📤 正在上传…"},
    "status.done": {"en": "✅ Done in {elapsed}.", "zh": "✅ 完成，用时 {elapsed}。"},
    "status.failed": {"en": "⚠️ {reason}", "zh": "⚠️ {reason}"},
    "status.cancelled": {"en": "✖ Cancelled.", "zh": "✖ 已取消。"},
    "take.already_running": {
        "en": "This draft is already being generated.",
        "zh": "这份草稿已经在生成中。",
    },
    "take.cannot_cancel": {
        "en": "It's already with the video service and can't be cancelled now.",
        "zh": "已提交给视频服务，现在无法取消。",
    },
    "take.kept": {"en": "⭐ Kept for the film.", "zh": "⭐ 已保留到影片中。"},
    "take.not_found": {"en": "That clip is no longer available.", "zh": "这个视频已不可用。"},
    "clip.caption": {"en": "🎬 {summary}", "zh": "🎬 {summary}"},
    "clip.too_large": {
        "en": "The clip is {size_mb} MB, over Telegram's {limit_mb} MB limit for bots, "
        "so I can't send it. Try a 5 s clip or standard quality.",
        "zh": "视频有 {size_mb} MB，超过了 Telegram 机器人 {limit_mb} MB 的上限，无法发送。"
        "请试试 5 秒或标准画质。",
    },
    "album.added": {
        "en": "📚 Added {count} shots to <b>{project}</b>:",
        "zh": "📚 已把 {count} 个镜头加入 <b>{project}</b>：",
    },
    "album.ask_description": {
        "en": "Reply to this message with one line describing the motion, and I'll draft "
        "every shot.",
        "zh": "回复这条消息写一句动作描述，我会为每个镜头写草稿。",
    },
    "album.open_hint": {
        "en": "Open a shot to refine and generate it.",
        "zh": "打开一个镜头来修改和生成。",
    },
    "project.created": {
        "en": "📁 New project <b>{title}</b>. Photos you send now go into it.",
        "zh": "📁 新项目 <b>{title}</b>。接下来发的照片都会放进这里。",
    },
    "project.none": {
        "en": "No projects yet. Send a photo with a caption to start one.",
        "zh": "还没有项目。发一张带说明的照片就能开始。",
    },
    "project.list_title": {"en": "📁 <b>Your projects</b>", "zh": "📁 <b>你的项目</b>"},
    "project.line": {
        "en": "{title} · {shots} shots · {clips} clips",
        "zh": "{title} · {shots} 个镜头 · {clips} 个视频",
    },
    "project.opened": {
        "en": "📁 <b>{title}</b> (now your current project)",
        "zh": "📁 <b>{title}</b>（已设为当前项目）",
    },
    "project.empty": {"en": "No shots yet.", "zh": "还没有镜头。"},
    "project.shot_line": {
        "en": "{position}. {description}",
        "zh": "{position}. {description}",
    },
    "project.shot_clips": {
        "en": "   {clips} clips{kept}",
        "zh": "   {clips} 个视频{kept}",
    },
    "project.kept_mark": {"en": ", ⭐ kept", "zh": "，⭐ 已保留"},
    "project.not_found": {
        "en": "That project is no longer available.",
        "zh": "这个项目已不可用。",
    },
    "button.resend": {"en": "▶️ Shot {position}", "zh": "▶️ 镜头 {position}"},
    "button.stale": {
        "en": "This button is from an old message and no longer works.",
        "zh": "这个按钮来自旧消息，已失效。",
    },
    "error.unexpected": {
        "en": "Sorry, something went wrong on my side. Please try again; if it keeps "
        "happening, send the photo again.",
        "zh": "抱歉，我这边出了点问题。请再试一次；如果一直这样，请重新发送照片。",
    },
    "error.download": {
        "en": "I couldn't download that file from Telegram. Please send it again.",
        "zh": "无法从 Telegram 下载这个文件，请重新发送。",
    },
    "photo.too_large_for_bots": {
        "en": "That file is {size_mb} MB; bots can only download files up to {limit_mb} MB. "
        "Please send it as a normal (compressed) photo.",
        "zh": "这个文件有 {size_mb} MB，机器人最多只能下载 {limit_mb} MB。请改为以普通（压缩）照片发送。",
    },
}
