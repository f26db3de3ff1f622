// The expert's page (专家评标页面), served by the seat agent on loopback (seat_agent/page/app.py).
//
// It polls /api/state once a second and redraws what changed; a form the expert is typing in
// is never redrawn under the cursor (a part's unsent form is kept while another part is shown).
//
// Every node is built with createElement, textContent and setAttribute: this script never
// turns a string into markup, so nothing from a bid or from the hub can become HTML. Chapters
// are the bidders' Markdown (untrusted): renderMarkdown shows headings, paragraphs, lists,
// emphasis and fenced code as such, and everything else (HTML included) as plain text.
//
// The agent's per-start key arrives in the address's fragment (#k=…), which the browser never
// sends to a server: kept for this tab (sessionStorage), taken out of the address bar, and sent
// with every request as X-Seat-Key, with X-Seat-Page: 1 (the page's own requests).
"use strict";

const KEY_STORE = "seat-page-key";
const pageKey = takeKey();

let S = null;            // the last /api/state
let partShown = null;    // the part whose form is drawn
let partsKey = null;     // the parts the select was drawn for
let chaptersKey = null;  // the chapter list as last drawn
let tabsKey = null;      // the current part's chapter tabs as last drawn
let reading = null;      // the label of the chapter in the reader
const drafts = {};       // part -> the form as left when another part was shown
const reviewNodes = new Map();

const $ = (id) => document.getElementById(id);

function takeKey() {
  const fromAddress = new URLSearchParams(location.hash.slice(1)).get("k");
  if (fromAddress) {
    try { sessionStorage.setItem(KEY_STORE, fromAddress); } catch (e) { /* this load only */ }
    history.replaceState(null, "", location.pathname + location.search);
    return fromAddress;
  }
  try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
}

// --- building nodes ------------------------------------------------------------------------

// h("td", {class: "x", "data-key": k, text: t}, child, "text", …): attributes by setAttribute,
// text by textContent, strings among the children as text nodes.
function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (/^on/i.test(name)) throw new Error("no handler attributes: " + name);
    if (name === "text") node.textContent = value == null ? "" : String(value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// --- Markdown, as text ---------------------------------------------------------------------

// Every pattern runs in time linear in the line (a bid may be written to stall the page): no
// unbounded lazy run before an anchor, and an emphasis closes within 200 characters of a line.
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*))?$/;
const BULLET = /^ {0,3}[-*+][ \t]+(.*)$/;
const ORDERED = /^ {0,3}(\d{1,9})[.)][ \t]+(.*)$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const SPAN = String.raw`[^\n]{0,200}?`;
const EMPHASIS = new RegExp([
  String.raw`\*\*(?=\S)(${SPAN}\S)\*\*`,
  String.raw`(?<![\p{L}\p{N}_])__(?=\S)(${SPAN}\S)__(?![\p{L}\p{N}_])`,
  String.raw`\*(?=[^\s*])(${SPAN}[^\s*])\*`,
  String.raw`(?<![\p{L}\p{N}_])_(?=[^\s_])(${SPAN}[^\s_])_(?![\p{L}\p{N}_])`,
].join("|"), "gu");

// A heading's words without the optional closing #s ("## 标题 ##").
function headingText(raw) {
  let text = (raw || "").trimEnd();
  let end = text.length;
  while (end > 0 && text[end - 1] === "#") end -= 1;
  if (end < text.length && (end === 0 || text[end - 1] === " " || text[end - 1] === "\t")) {
    text = text.slice(0, end).trimEnd();
  }
  return text;
}

// The blocks of a Markdown text: {kind: "heading", level, text}, {kind: "p", lines},
// {kind: "ul" | "ol", start, items}, {kind: "pre", lines}. Nothing else is recognised.
function parseBlocks(text) {
  const blocks = [];
  let open = null;  // the paragraph, list or code block the next line may continue
  for (const line of String(text).replace(/\r\n?/g, "\n").split("\n")) {
    let m;
    if (open && open.kind === "pre") {
      m = FENCE.exec(line);
      if (m && m[1][0] === open.fence[0] && m[1].length >= open.fence.length &&
          line.trim() === m[1]) open = null;
      else open.lines.push(line);
    } else if (!line.trim()) {
      open = null;
    } else if ((m = FENCE.exec(line))) {
      open = {kind: "pre", fence: m[1], lines: []};
      blocks.push(open);
    } else if ((m = HEADING.exec(line))) {
      blocks.push({kind: "heading", level: m[1].length, text: headingText(m[2])});
      open = null;
    } else if ((m = BULLET.exec(line)) || (m = ORDERED.exec(line))) {
      const kind = m.length === 3 ? "ol" : "ul";
      if (!open || open.kind !== kind) {
        open = {kind, start: kind === "ol" ? Number(m[1]) : 1, items: []};
        blocks.push(open);
      }
      open.items.push(kind === "ol" ? m[2] : m[1]);
    } else if (open && open.kind === "p") {
      open.lines.push(line.replace(/^[ \t]+/, ""));
    } else if (open && /^[ \t]/.test(line)) {  // an indented line goes on with a list item
      open.items[open.items.length - 1] += "\n" + line.trim();
    } else {
      open = {kind: "p", lines: [line.replace(/^[ \t]+/, "")]};
      blocks.push(open);
    }
  }
  return blocks;
}

// Emphasis (*x*, _x_) and strong (**x**, __x__) within a line of text, into node, as text.
function inline(node, text) {
  let last = 0;
  for (const m of text.matchAll(EMPHASIS)) {
    if (m.index > last) node.append(text.slice(last, m.index));
    const strong = m[1] !== undefined || m[2] !== undefined;
    node.append(h(strong ? "strong" : "em", {text: m[1] ?? m[2] ?? m[3] ?? m[4]}));
    last = m.index + m[0].length;
  }
  if (last < text.length) node.append(text.slice(last));
  return node;
}

// A chapter's headings sit below the page's own (h2): # is h3, ## h4, ### and deeper h5/h6.
function renderMarkdown(text) {
  const out = document.createDocumentFragment();
  for (const b of parseBlocks(text)) {
    if (b.kind === "heading") {
      out.append(inline(h("h" + Math.min(b.level + 2, 6)), b.text));
    } else if (b.kind === "p") {
      out.append(inline(h("p"), b.lines.join("\n")));
    } else if (b.kind === "pre") {
      out.append(h("pre", {text: b.lines.join("\n")}));
    } else {
      const list = h(b.kind);
      if (b.kind === "ol" && b.start !== 1) list.setAttribute("start", String(b.start));
      for (const item of b.items) list.append(inline(h("li"), item));
      out.append(list);
    }
  }
  return out;
}

// --- talking to the agent ------------------------------------------------------------------

async function call(method, url, body) {
  const headers = {"X-Seat-Page": "1"};
  if (pageKey) headers["X-Seat-Key"] = pageKey;
  const init = {method, headers, cache: "no-store"};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    return {ok: false, status: 0, data: {detail: "评标终端没有响应，请确认评标终端仍在运行"}};
  }
  let data = {};
  try { data = await resp.json(); } catch (e) { data = {}; }
  if (resp.status === 401 || resp.status === 421) showAccess(data.detail || "无权访问本页面");
  return {ok: resp.ok, status: resp.status, data};
}

function showAccess(message) {
  $("access-message").textContent = message;
  $("access-message").hidden = false;
  document.querySelector("main").hidden = true;
}

// --- drawing -------------------------------------------------------------------------------

function currentPart() {
  if (!S || !S.briefing) return null;
  return S.briefing.parts.find((p) => p.part === $("part").value) || null;
}

function formValues() {
  const values = {};
  document.querySelectorAll("#sheet [data-key]").forEach((row) => {
    values[row.dataset.key] = {
      points: row.querySelector("input.points").value,
      comment: row.querySelector("textarea.comment").value,
    };
  });
  return values;
}

function keepDraft() {
  if (partShown) drafts[partShown] = formValues();
}

function drawSheet() {
  const part = currentPart();
  partShown = part ? part.part : null;
  if (!part) { $("sheet").replaceChildren(); return; }
  const saved = (S.latest || {})[part.part];
  const draft = drafts[part.part];
  const table = h("table", {}, h("tr", {},
    ...["评审对象", "评分项", "分值", "得分", "评分理由"].map((t) => h("th", {text: t}))));
  for (const subject of part.subjects) {
    for (const item of part.items) {
      const key = subject + "|" + item.id;
      const v = (draft && draft[key]) || (saved && saved.values[key]) || {points: "", comment: ""};
      const points = h("input", {class: "points", "data-testid": "points-" + key});
      points.value = v.points;
      const comment = h("textarea", {class: "comment", "data-testid": "comment-" + key});
      comment.value = v.comment;
      table.append(h("tr", {"data-key": key, "data-subject": subject},
        h("td", {text: subject}),
        h("td", {text: item.id + " " + item.title}),
        h("td", {text: `0–${item.max}（步长 ${item.step}）`}),
        h("td", {}, points),
        h("td", {}, comment, h("div", {class: "problem", "data-testid": "problem-" + key}))));
    }
  }
  $("sheet").replaceChildren(table);
  markReading();
  validate();
}

let validating = 0;
const triedToSubmit = {};  // part -> a submit was refused: every open cell is pointed at

async function validate() {
  const part = currentPart();
  if (!part) return;
  const mine = ++validating;
  const r = await call("POST", "/api/validate", {part: part.part, values: formValues()});
  if (mine !== validating || !r.ok) return;
  const problems = r.data.problems || {};
  let done = 0, total = 0;
  document.querySelectorAll("#sheet [data-key]").forEach((row) => {
    const p = problems[row.dataset.key] || "";
    total += 1;
    if (p !== "未评分") done += 1;
    // An empty cell is not nagged about while the expert works, only once they tried to submit.
    const show = p === "未评分" && !triedToSubmit[part.part] ? "" : p;
    row.querySelector(".problem").textContent = show;
    row.querySelector("input.points").classList.toggle("bad", show !== "");
  });
  const left = Object.keys(problems).length;
  $("part-progress").textContent =
    `已评 ${done}/${total} 项，` + (left ? `尚有 ${left} 处需处理` : "可以提交");
}

function chapterState(c) {
  return c.complete ? "已就绪" : `同步中 ${c.size ? Math.floor(100 * c.received / c.size) : 100}%`;
}

function drawChapters() {
  const list = S.chapters || [];
  const key = JSON.stringify(list.map((c) => [c.label, c.title, c.received, c.complete]));
  if (key === chaptersKey) return;
  chaptersKey = key;
  const items = list.map((c) => h("li", {},
    h("a", {href: "#", "data-label": c.label, text: c.label}), " ",
    h("span", {class: "muted", text: `${c.title} · ${chapterState(c)}`})));
  $("chapters").replaceChildren(
    ...(items.length ? items : [h("li", {class: "muted", text: "评审材料尚未下发"})]));
}

function chapterOf(partId, subject) {
  return (S.chapters || []).find((c) => c.label === `${partId}-${subject}`) || null;
}

// The current part's chapters, one per subject, as tabs above the reader.
function drawPartChapters() {
  const part = currentPart();
  const tabs = part ? part.subjects.map((s) => [s, chapterOf(part.part, s)]).filter((t) => t[1]) : [];
  const key = JSON.stringify([part && part.part, reading, tabs.map(([, c]) => [c.label, c.complete])]);
  if (key === tabsKey) return;
  tabsKey = key;
  const box = $("part-chapters");
  if (!tabs.length) {
    box.replaceChildren(h("span", {class: "muted", text: part ? "本部分没有需要阅读的章节" : ""}));
    return;
  }
  box.replaceChildren(...tabs.map(([subject, c]) => h("button", {
    type: "button",
    "data-label": c.label,
    class: c.label === reading ? "current" : "",
    text: `评审对象 ${subject}` + (c.complete ? "" : "（同步中）"),
  })));
  const ready = tabs.find(([, c]) => c.complete);
  if (reading === null && ready) openChapter(ready[1].label);  // something to read at once
}

// The sheet's rows for the subject whose chapter is open.
function markReading() {
  const part = currentPart();
  const prefix = part ? part.part + "-" : null;
  const subject = prefix && reading && reading.startsWith(prefix) ? reading.slice(prefix.length) : null;
  document.querySelectorAll("#sheet [data-key]").forEach((row) => {
    row.classList.toggle("reading", row.dataset.subject === subject);
  });
}

async function openChapter(label) {
  reading = label;
  const c = ((S && S.chapters) || []).find((x) => x.label === label);
  $("reading").textContent = label + (c && c.title ? " · " + c.title : "");
  const r = await call("GET", "/api/chapters/" + encodeURIComponent(label));
  if (reading !== label) return;  // another chapter was opened meanwhile
  const reader = $("reader");
  if (r.ok) reader.replaceChildren(renderMarkdown(r.data.text));
  else reader.replaceChildren(h("p", {class: "notice", text: r.data.detail || "章节暂时无法打开"}));
  reader.scrollTop = 0;
  drawPartChapters();
  markReading();
}

function showPart(partId) {
  if (partId === partShown) return;
  keepDraft();
  $("part").value = partId;
  drawSheet();
  drawProgress();
  drawPartChapters();
}

function drawProgress() {
  const parts = S.briefing ? S.briefing.parts : [];
  const latest = S.latest || {};
  $("progress").replaceChildren(...parts.map((p) => h("li", {
    "data-testid": "progress-" + p.part,
    "data-status": latest[p.part] ? latest[p.part].status : "none",
    class: latest[p.part] && latest[p.part].status === "refused" ? "problem" : "",
    text: `${p.part} ${p.title}：` + (latest[p.part] ? latest[p.part].label : "未提交"),
  })));
  drawSaveStatus(partShown ? latest[partShown] : null);
}

// The verdict on the shown part's last save: a refusal shows the hub's reason (never 已送达);
// the form keeps the refused values, so the expert corrects them and submits again.
function drawSaveStatus(last) {
  const box = $("save-status");
  box.textContent = last ? last.label : "";
  box.dataset.status = last ? last.status : "none";
  box.className = last && last.status === "refused" ? "problem" : "";
}

const REVIEW_STATUS = {
  open: "待答复", sent: "已发送，等待主场确认", answered: "已答复", refused: "未被接受",
  settled: "已自动关闭",
};

// An informational notice is read, never answered; a settled request needs nothing more.
function reviewStatusText(r) {
  if (r.informational && r.status === "open") return "仅供知悉，无需答复";
  return (REVIEW_STATUS[r.status] || "") + (r.result ? "：" + r.result : "");
}

function reviewNode(r) {
  let node = reviewNodes.get(r.id);
  if (node) return node;
  const keep = h("button", {type: "button", class: "keep", text: "保留原评分并说明理由"});
  const revise = h("button", {type: "button", class: "revise", text: "已重新评分"});
  node = h("div", {"data-review": r.id},
    h("p", {class: "msg"}), h("p", {class: "spread"}),
    h("textarea", {class: "reason", placeholder: "保留原评分的书面理由"}),
    h("div", {}, keep, revise), h("p", {class: "status"}));
  keep.addEventListener("click", () => answer(r.id, "keep", node));
  revise.addEventListener("click", () => answer(r.id, "revise", node));
  reviewNodes.set(r.id, node);
  $("reviews").append(node);
  return node;
}

function drawReviews() {
  for (const r of S.reviews) {
    const node = reviewNode(r);
    node.querySelector(".msg").textContent = `复核请求 #${r.id}：${r.message}`;
    const sp = r.spread || {};
    node.querySelector(".spread").textContent =
      `您的评分 ${sp.yours}；其他专家（匿名，按分值排序）${(sp.others || []).join("、")}；平均 ${sp.mean}`;
    const done = ["sent", "answered", "settled"].includes(r.status) || r.informational;
    node.querySelector(".keep").disabled = !r.explainable || done;
    node.querySelector(".revise").disabled = done;
    node.querySelector(".reason").hidden = r.informational;
    node.querySelector(".status").textContent = reviewStatusText(r);
  }
}

async function answer(id, kind, node) {
  const r = await call("POST", `/api/reviews/${encodeURIComponent(id)}`,
                       {answer: kind, reason: node.querySelector(".reason").value});
  node.querySelector(".status").textContent = r.ok ? "已发送，等待主场确认" : r.data.detail;
}

// What the agent itself refused (a form left incomplete, a link down), by message element: kept
// until the person acts again, so the redraw that follows every action does not wipe it.
const refusedHere = {};

function refusal(r) {
  return (r.data.detail || "") + Object.values(r.data.problems || {}).map((p) => "；" + p).join("");
}

function draw() {
  $("seat").textContent = S.seat;
  $("link").textContent = S.online ? "已连接主场" : "未连接主场（评分将在恢复后自动发送）";
  const c = S.checkin;
  const checkedIn = !!S.briefing;
  $("checkin-form").hidden = checkedIn;
  let msg = c.message || (c.status === "sent" ? "正在签到……" : "");
  if (c.status === "refused" && c.attempts_left !== null && !msg.includes("次")) {
    msg += `（剩余 ${c.attempts_left} 次）`;
  }
  $("checkin-message").textContent = refusedHere.checkin || msg;
  $("checkin-message").className = c.status === "accepted" && !refusedHere.checkin ? "ok" : "problem";
  if (checkedIn) {
    $("who").textContent = `专家 ${S.briefing.expert} · 评标会 #${S.briefing.session_id}`;
    $("bidder-count").textContent =
      `本项目共有 ${S.briefing.bidder_count} 家投标人；评分封存前不显示投标人名称。`;
  }
  $("commitment-box").hidden = !checkedIn;
  const confirmed = S.commitment === "confirmed";
  $("commit-confirm").disabled = !!S.commitment;
  $("commit-recuse").disabled = !!S.commitment;
  const recorded = S.commitment_result ? "（" + S.commitment_result + "）" : "（正在提交主场）";
  const hubRefused = !S.commitment && S.commitment_refused ? "主场未接受：" + S.commitment_refused : "";
  $("commitment-message").textContent = refusedHere.commitment || hubRefused ||
    (confirmed ? "已承诺，可以开始评审" + recorded :
     S.commitment === "recused" ? "已申请回避，本工位不再评分" + recorded : "");
  $("chapters-box").hidden = !confirmed;
  $("work").hidden = !confirmed;
  if (confirmed) {
    const key = JSON.stringify(S.briefing.parts.map((p) => p.part));
    if (key !== partsKey) {
      partsKey = key;
      $("part").replaceChildren(...S.briefing.parts.map(
        (p) => h("option", {value: p.part, text: `${p.part} ${p.title}`})));
      drawSheet();
    }
    drawChapters();
    drawPartChapters();
    drawProgress();
  }
  $("reviews-box").hidden = !confirmed || S.reviews.length === 0;
  if (S.reviews.length) drawReviews();
  $("report-box").hidden = !S.report;
  if (S.report) {
    const res = S.report.result || {};
    $("result").textContent = "中标候选人（按排名）：" + (res.candidates || []).join("、");
    const sig = S.signature;
    const words = {sent: "已提交，等待主场确认", signed: "已签署", refused: "未被接受"};
    $("sign-message").textContent = refusedHere.signature ||
      (sig ? (words[sig.status] || "") + (sig.message ? "：" + sig.message : "") : "");
    $("sign-submit").disabled = !!sig && (sig.status === "sent" || sig.status === "signed");
  }
}

// --- the committee: presence at check-in, the chair election --------------------------------

const chairNames = {};   // expert code -> name, from every chair_round seen
let chairKey = null;     // the open round's candidates as drawn (a redraw keeps the choice)

function chairName(code) {
  return chairNames[code] ? `${code} ${chairNames[code]}` : code;
}

function chairResult(r) {
  const votes = Object.entries(r.votes).map(([c, n]) => `${chairName(c)} ${n} 票`).join("、");
  const outcome = r.chair ? `${chairName(r.chair)} 当选主任委员`
    : `${r.tied.map(chairName).join("、")} 票数相同，进入第 ${r.round + 1} 轮`;
  return `第 ${r.round} 轮：${votes}；${outcome}`;
}

function drawPresence() {
  const p = S.presence;
  $("presence-box").hidden = !p;
  if (!p) return;
  $("presence-message").textContent = p.message;
  $("presence-message").className = p.state === "unconfirmed" ? "problem" : "ok";
}

function drawChair() {
  const c = S.chair;
  const show = !!c && S.commitment === "confirmed";
  $("chair-box").hidden = !show;
  if (!show) return;
  for (const x of c.candidates) chairNames[x.code] = x.name;
  $("chair-results").replaceChildren(...c.results.map((r) =>
    h("li", {"data-round": r.round, text: chairResult(r)})));
  const open = !c.chair && c.candidates.length > 0;
  let status;
  if (c.chair) status = `主任委员：${chairName(c.chair)}`;
  else if (!c.candidates.length) status = "暂无候选人：尚无确认承诺的评标委员会成员";
  else if (c.ballot) {
    status = `第 ${c.round} 轮：您已投票给 ${chairName(c.ballot)}；` +
      (c.waiting ? `等待其他 ${c.waiting} 位成员投票` : "等待计票");
  } else status = `第 ${c.round} 轮投票：请在候选人中选择一位`;
  $("chair-status").textContent = status;
  const key = JSON.stringify([c.round, c.candidates.map((x) => x.code), !!c.ballot, open]);
  if (key !== chairKey) {
    chairKey = key;
    $("chair-candidates").replaceChildren(...(open ? c.candidates : []).map((x) => {
      const radio = h("input", {type: "radio", name: "chair-candidate", value: x.code,
                                "data-testid": "chair-" + x.code});
      radio.checked = x.code === c.ballot;
      radio.disabled = !!c.ballot;
      return h("label", {}, radio, " " + chairName(x.code));
    }));
  }
  $("chair-vote").hidden = !open;
  $("chair-vote").disabled = !!c.ballot;
  const words = {sent: "已提交，等待主场记录", recorded: "", refused: "未被接受："};
  $("chair-message").textContent = c.status ? (words[c.status] || "") + (c.message || "") : "";
  $("chair-message").className = c.status === "refused" ? "problem" : "ok";
}

function wireChair() {
  $("chair-vote").addEventListener("click", async () => {
    const chosen = document.querySelector("input[name=chair-candidate]:checked");
    if (!chosen) { $("chair-message").textContent = "请选择一位候选人"; return; }
    const r = await call("POST", "/api/chair-ballot", {candidate: chosen.value});
    if (!r.ok) {
      $("chair-message").textContent = r.data.detail;
      $("chair-message").className = "problem";
    }
    refresh();
  });
}

// --- announcements from the host site or a supervisor ----------------------------------------

let announcementsKey = null;  // the announcements as last drawn

function beijingTime(epochSeconds) {
  return new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(new Date(epochSeconds * 1000));
}

function drawAnnouncements() {
  const list = S.announcements || [];
  const key = JSON.stringify(list.map((a) => a.id));
  if (key === announcementsKey) return;
  announcementsKey = key;
  $("announcements-box").hidden = list.length === 0;
  $("announcements").replaceChildren(...list.map((a) => h("li",
    {"data-testid": "announcement", "data-id": a.id},
    h("span", {class: "from", "data-testid": "announcement-from",
               text: `${a.role_name} · ${beijingTime(a.at)}`}),
    h("span", {class: "text", "data-testid": "announcement-text", text: a.text}),
    h("button", {type: "button", "data-dismiss": a.id, text: "知道了"}))));
}

function wireAnnouncements() {
  $("announcements").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-dismiss]");
    if (!b) return;
    b.disabled = true;
    await call("POST", `/api/announcements/${b.dataset.dismiss}/dismiss`, {});
    refresh();
  });
}

async function refresh() {
  const r = await call("GET", "/api/state");
  if (r.ok) {
    S = r.data;
    drawAnnouncements();
    draw();
    drawPresence();
    drawChair();
  } else if (r.status === 0) {
    $("link").textContent = r.data.detail;
  }
}

// --- what the expert does ------------------------------------------------------------------

function wire() {
  $("checkin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await call("POST", "/api/checkin", {
      session_id: $("session_id").value, expert_code: $("expert_code").value, pin: $("pin").value});
    refusedHere.checkin = r.ok ? "" : refusal(r);
    $("pin").value = "";
    refresh();
  });
  async function decide(decision) {
    const r = await call("POST", "/api/commitment", {decision, reason: $("recuse-reason").value});
    refusedHere.commitment = r.ok ? "" : refusal(r);
    refresh();
  }
  $("commit-confirm").addEventListener("click", () => decide("confirmed"));
  $("commit-recuse").addEventListener("click", () => {
    // Final at this seat: asked once more, when there is a cause to send at all.
    if ($("recuse-reason").value.trim() &&
        !window.confirm("申请回避后，本工位不再参加本项目评审，且不能撤回。确定申请回避吗？")) return;
    decide("recused");
  });
  $("chapters").addEventListener("click", (ev) => {
    const a = ev.target.closest("a[data-label]");
    if (!a) return;
    ev.preventDefault();
    const label = a.dataset.label;
    const part = S && S.briefing && S.briefing.parts.find((p) => label.startsWith(p.part + "-"));
    if (part) showPart(part.part);
    openChapter(label);
  });
  $("part-chapters").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-label]");
    if (b) openChapter(b.dataset.label);
  });
  $("part").addEventListener("change", () => {
    showPart($("part").value);  // the form of the part left is kept (drafts)
    const part = currentPart();
    const first = part && part.subjects.map((s) => chapterOf(part.part, s)).find((c) => c && c.complete);
    if (first) openChapter(first.label);
  });
  $("sheet").addEventListener("input", () => validate());
  $("submit-scores").addEventListener("click", async () => {
    const part = currentPart();
    if (!part) return;
    const r = await call("POST", "/api/scores", {part: part.part, values: formValues()});
    $("submit-message").textContent = r.ok ? "" : r.data.detail;
    triedToSubmit[part.part] = !r.ok;
    if (!r.ok) { validate(); return; }
    delete drafts[part.part];
    await refresh();
  });
  $("sign-submit").addEventListener("click", async () => {
    const decision = document.querySelector("input[name=decision]:checked").value;
    const r = await call("POST", "/api/signature", {decision, reason: $("sign-reason").value});
    refusedHere.signature = r.ok ? "" : refusal(r);
    refresh();
  });
}

wire();
wireChair();
wireAnnouncements();
refresh();
setInterval(refresh, 1000);
