// The storyboard Mini App: plain JavaScript, no build step.
// Every API call carries `Authorization: tma <initData>`; the bot checks it and the
// project's rules. User text is only ever set as textContent.
"use strict";

(function () {
  const tg = (window.Telegram && window.Telegram.WebApp) || null;
  const POLL_MS = 4000;

  const TEXT = {
    en: {
      projects: "Your projects", none: "No projects yet: send the bot a photo to start one.",
      shots: (n) => `${n} shot${n === 1 ? "" : "s"}`, clips: (n) => `${n} clip${n === 1 ? "" : "s"}`,
      storyboard: "Storyboard", music: "Music", calm: "Calm", off: "Off", song: "Your song",
      shape: "Shape", ownShape: "each photo's own",
      film: "🎞 Make film", filmQueued: "The film is being made: it will arrive in the chat.",
      keep: "⭐ Keep", kept: "⭐ Kept", up: "Move up", down: "Move down", drag: "Drag to reorder",
      drop: "✖", dropAsk: "Take this shot out of the story?", take: "Take",
      noClip: "No clip yet", readOnly: "Only the group's admins can change this project.",
      states: { queued: "queued", submitting: "starting", submitted: "started",
        rendering: "rendering", downloading: "downloading", delivering: "sending" },
      noAuth: "Open the storyboard from Telegram.", failed: "Something went wrong. Try again.",
      back: "Back",
    },
    zh: {
      projects: "我的项目", none: "还没有项目：给机器人发一张照片就能开始。",
      shots: (n) => `${n} 个镜头`, clips: (n) => `${n} 段视频`,
      storyboard: "故事板", music: "配乐", calm: "舒缓", off: "关闭", song: "你的歌曲",
      shape: "画幅", ownShape: "保持照片原样",
      film: "🎞 合成影片", filmQueued: "影片正在合成，完成后会发到聊天里。",
      keep: "⭐ 保留", kept: "⭐ 已保留", up: "上移", down: "下移", drag: "拖动排序",
      drop: "✖", dropAsk: "把这个镜头从故事里移除？", take: "版本",
      noClip: "还没有视频", readOnly: "只有群管理员可以修改这个项目。",
      states: { queued: "排队中", submitting: "提交中", submitted: "已提交",
        rendering: "生成中", downloading: "下载中", delivering: "发送中" },
      noAuth: "请从 Telegram 中打开故事板。", failed: "出了点问题，请再试一次。",
      back: "返回",
    },
  };

  function readInitData() {
    if (tg && tg.initData) return tg.initData;
    if (window.__claymateInitData) return window.__claymateInitData; // tests
    const hash = new URLSearchParams(location.hash.slice(1));
    return hash.get("tgWebAppData") || "";
  }

  const initData = readInitData();
  const fields = new URLSearchParams(initData);
  let user = {};
  try { user = JSON.parse(fields.get("user") || "{}"); } catch (e) { user = {}; }
  const lang = String(user.language_code || navigator.language || "en").toLowerCase()
    .startsWith("zh") ? "zh" : "en";
  const T = TEXT[lang];
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";

  const main = document.getElementById("main");
  const title = document.getElementById("title");
  const back = document.getElementById("back");
  const toast = document.getElementById("toast");
  back.setAttribute("aria-label", T.back);

  const state = { project: null, timer: null, busy: false };
  window.__claymate = { state, lang, ready: false, renders: 0 };

  function applyTheme() {
    if (!tg) return;
    document.documentElement.classList.add("tg");
    const params = tg.themeParams || {};
    for (const [key, value] of Object.entries(params)) {
      const name = "--tg-theme-" + key.replace(/_/g, "-");
      document.documentElement.style.setProperty(name, value);
    }
  }

  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else if (key === "class") node.className = value;
      else if (value === true) node.setAttribute(key, "");
      else if (value !== false && value != null) node.setAttribute(key, value);
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  function say(message) {
    toast.textContent = message;
    toast.hidden = false;
    clearTimeout(say.timer);
    say.timer = setTimeout(() => { toast.hidden = true; }, 3500);
  }

  async function api(path, body) {
    const options = { headers: { Authorization: "tma " + initData }, cache: "no-store" };
    if (body !== undefined) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const answer = await fetch("/app/api/" + path, options);
    let data = {};
    try { data = await answer.json(); } catch (e) { data = {}; }
    if (answer.status === 401) throw new Error(T.noAuth);
    if (!answer.ok) throw new Error(data.message || T.failed);
    return data;
  }

  function done() {
    window.__claymate.ready = true;
    window.__claymate.renders += 1;
    document.body.dataset.renders = String(window.__claymate.renders);
  }

  // --- the list of projects -------------------------------------------------------------

  async function showList() {
    stopPolling();
    state.project = null;
    title.textContent = T.projects;
    back.hidden = true;
    if (tg && tg.BackButton) tg.BackButton.hide();
    const data = await api("projects");
    main.replaceChildren();
    if (!data.projects.length) main.append(el("p", { class: "hint", text: T.none }));
    for (const p of data.projects) {
      const meta = [p.chat_title, T.shots(p.shots), T.clips(p.clips)].filter(Boolean).join(" · ");
      main.append(el("button", { class: "project-line", "data-project": p.id,
        on: { click: () => openProject(p.id) } },
      [el("div", { text: p.title }), el("div", { class: "meta", text: meta })]));
    }
    done();
  }

  // --- one project ----------------------------------------------------------------------

  async function openProject(id) {
    const project = await api("projects/" + id);
    render(project);
    back.hidden = false;
    if (tg && tg.BackButton) tg.BackButton.show();
  }

  async function change(what, body) {
    if (state.busy) return;
    state.busy = true;
    try {
      render(await api(`projects/${state.project.id}/${what}`, body));
    } catch (error) {
      say(error.message);
    } finally {
      state.busy = false;
    }
  }

  function order() { return state.project.shots.map((s) => s.id); }

  function move(index, step) {
    const ids = order();
    const to = index + step;
    if (to < 0 || to >= ids.length) return;
    [ids[index], ids[to]] = [ids[to], ids[index]];
    change("order", { shots: ids });
  }

  function render(project) {
    state.project = project;
    title.textContent = project.title;
    const may = project.may_change;
    const music = el("select", { id: "music", disabled: !may, "aria-label": T.music,
      on: { change: (e) => change("music", { music: e.target.value }) } }, [
      el("option", { value: "calm", text: T.calm }),
      el("option", { value: "off", text: T.off }),
    ]);
    if (project.music === "song") music.prepend(el("option", { value: "song", text: T.song, disabled: true }));
    music.value = project.music || "off";
    // New photos are cut to the shape; shots already in the project keep theirs.
    const shape = el("select", { id: "aspect", disabled: !may, "aria-label": T.shape,
      on: { change: (e) => change("aspect", { aspect: e.target.value }) } },
      ["16:9", "9:16", "1:1"].map((a) => el("option", { value: a, text: a })));
    if (!project.aspect) shape.prepend(el("option", { value: "", text: T.ownShape, disabled: true }));
    shape.value = project.aspect || "";
    const tools = el("div", { class: "tools" }, [
      el("label", { text: "🎵 " + T.music + " " }, [music]),
      el("label", { text: "🖼 " + T.shape + " " }, [shape]),
      el("button", { id: "make-film", class: "primary", disabled: !may, text: T.film,
        on: { click: makeFilm } }),
    ]);
    const list = el("ol", { class: "shots", id: "shots" });
    project.shots.forEach((shot, index) => list.append(card(shot, index, project.shots.length, may)));
    main.replaceChildren(
      ...(project.group ? [el("p", { class: "hint", text: "👥 " + project.group })] : []),
      ...(may ? [] : [el("p", { class: "hint", text: T.readOnly })]),
      tools, list,
    );
    schedulePoll(project);
    done();
  }

  function card(shot, index, count, may) {
    const playable = shot.takes.filter((t) => t.clip);
    const shown = playable.find((t) => t.id === shot.kept_take) || playable[playable.length - 1];
    const takes = el("div", { class: "row" });
    playable.forEach((take, i) => {
      const kept = take.id === shot.kept_take;
      takes.append(el("button", {
        class: "take" + (kept ? " kept" : ""), "data-take": take.id, disabled: !may,
        "aria-pressed": kept ? "true" : "false",
        text: `${T.take} ${i + 1} · ${kept ? T.kept : T.keep}`,
        on: { click: () => kept ? change("unkeep", { shot: shot.id }) : change("keep", { take: take.id }) },
      }));
    });
    for (const take of shot.takes.filter((t) => !t.clip && t.state !== "delivered")) {
      const pct = take.progress != null ? ` ${Math.round(take.progress * 100)}%` : "";
      takes.append(el("span", { class: "badge", text: `⏳ ${T.states[take.state] || take.state}${pct}` }));
    }
    const controls = el("div", { class: "row" }, [
      el("button", { class: "up", "aria-label": T.up, disabled: !may || index === 0, text: "↑",
        on: { click: () => move(index, -1) } }),
      el("button", { class: "down", "aria-label": T.down, disabled: !may || index === count - 1,
        text: "↓", on: { click: () => move(index, +1) } }),
      el("button", { class: "drop", "aria-label": T.dropAsk, disabled: !may, text: T.drop,
        on: { click: () => confirmThen(T.dropAsk, () => change("drop", { shot: shot.id })) } }),
    ]);
    const body = el("div", {}, [
      el("div", { class: "number", text: "#" + shot.number }),
      el("p", { class: "summary", text: shot.summary }),
      shown ? el("video", { src: shown.clip, controls: true, playsinline: true,
        preload: "metadata", "data-take": shown.id }) : el("p", { class: "hint", text: T.noClip }),
      takes, controls,
    ]);
    const handle = el("div", { class: "handle", "aria-label": T.drag, role: "button", text: "⠿" });
    const item = el("li", { class: "shot", "data-shot": shot.id }, [
      handle,
      shot.still ? el("img", { class: "still", src: shot.still, alt: "" }) : el("div", { class: "still" }),
      body,
    ]);
    if (may) dragWith(handle, item);
    return item;
  }

  // Drag to reorder with pointer events: the card follows the finger between its
  // neighbours; on release the new order is sent if it changed. The listeners sit on the
  // window: moving the card in the document releases any pointer capture.
  function dragWith(handle, item) {
    handle.addEventListener("pointerdown", (down) => {
      if (state.busy || down.button !== 0) return;
      down.preventDefault();
      const list = item.parentElement;
      const before = order().join(",");
      item.classList.add("dragging");
      const onMove = (ev) => {
        if (ev.pointerId !== down.pointerId) return;
        ev.preventDefault();
        if (ev.clientY < 48) window.scrollBy(0, -24);
        else if (ev.clientY > window.innerHeight - 48) window.scrollBy(0, 24);
        for (const other of list.children) {
          if (other === item) continue;
          const box = other.getBoundingClientRect();
          if (ev.clientY > box.top && ev.clientY < box.bottom) {
            const after = ev.clientY > box.top + box.height / 2;
            const anchor = after ? other.nextSibling : other;
            if (anchor !== item && anchor !== item.nextSibling) list.insertBefore(item, anchor);
            break;
          }
        }
      };
      const onUp = (ev) => {
        if (ev.pointerId !== down.pointerId) return;
        window.removeEventListener("pointermove", onMove);
        window.removeEventListener("pointerup", onUp);
        window.removeEventListener("pointercancel", onUp);
        item.classList.remove("dragging");
        const ids = [...list.children].map((li) => Number(li.dataset.shot));
        if (ids.join(",") !== before) change("order", { shots: ids });
      };
      window.addEventListener("pointermove", onMove, { passive: false });
      window.addEventListener("pointerup", onUp);
      window.addEventListener("pointercancel", onUp);
    });
  }

  // Telegram's own dialog inside Telegram (some clients block window.confirm).
  function confirmThen(question, action) {
    if (tg && tg.showConfirm) tg.showConfirm(question, (ok) => { if (ok) action(); });
    else if (window.confirm(question)) action();
  }

  async function makeFilm(event) {
    const pressed = event && event.currentTarget;
    if (pressed) pressed.disabled = true; // one film per press, not one per impatient tap
    try {
      await api(`projects/${state.project.id}/film`, {});
      say(T.filmQueued);
      if (tg && tg.HapticFeedback) tg.HapticFeedback.notificationOccurred("success");
    } catch (error) {
      say(error.message);
    }
  }

  // Takes in flight are polled until they settle; a playing video is never interrupted.
  function schedulePoll(project) {
    stopPolling();
    const waiting = project.shots.some((s) => s.takes.some((t) => !t.clip && t.state !== "delivered"));
    if (!waiting) return;
    state.timer = setTimeout(async () => {
      const playing = [...document.querySelectorAll("video")].some((v) => !v.paused);
      if (playing || state.busy) return schedulePoll(project);
      try { render(await api("projects/" + project.id)); } catch (e) { schedulePoll(project); }
    }, POLL_MS);
  }

  function stopPolling() {
    if (state.timer) clearTimeout(state.timer);
    state.timer = null;
  }

  function startProject() {
    const fromLink = (tg && tg.initDataUnsafe && tg.initDataUnsafe.start_param) || fields.get("start_param") || "";
    const match = /^p(\d+)$/.exec(fromLink);
    const query = new URLSearchParams(location.search).get("project");
    return match ? Number(match[1]) : (query && /^\d+$/.test(query) ? Number(query) : null);
  }

  async function start() {
    applyTheme();
    if (tg) {
      tg.ready();
      tg.expand();
      if (tg.onEvent) tg.onEvent("themeChanged", applyTheme);
    }
    back.addEventListener("click", () => showList().catch((e) => say(e.message)));
    if (tg && tg.BackButton) tg.BackButton.onClick(() => showList().catch((e) => say(e.message)));
    if (!initData) {
      main.replaceChildren(el("p", { class: "hint", text: T.noAuth }));
      done();
      return;
    }
    const project = startProject();
    try {
      if (project) await openProject(project);
      else await showList();
    } catch (error) {
      if (project) {
        try { await showList(); } catch (e) { /* shown below */ }
      }
      say(error.message);
      done();
    }
  }

  start();
})();
