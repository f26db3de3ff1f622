"""The expert's page (one HTML document with its script), served at ``/`` by the local agent.

It polls ``/api/state`` once a second and redraws what changed; forms the expert is typing in
are never redrawn under the cursor. Everything a person reads is Simplified Chinese.
"""

from __future__ import annotations

__all__ = ["PAGE"]

PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>评标工位</title>
<style>
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 0; color: #222; }
header { background: #1f4e79; color: #fff; padding: 8px 16px; display: flex; gap: 24px; }
main { padding: 12px 16px; display: grid; gap: 16px; }
section { border: 1px solid #ccd; border-radius: 4px; padding: 8px 12px; }
section[hidden] { display: none; }
h2 { font-size: 16px; margin: 4px 0 8px; }
.problem { color: #b00020; font-size: 12px; }
.ok { color: #1b6e20; }
.muted { color: #666; }
table { border-collapse: collapse; }
td, th { border: 1px solid #dde; padding: 2px 6px; vertical-align: top; }
input.points { width: 5em; }
input.bad, textarea.bad { border-color: #b00020; background: #fff3f3; }
textarea.comment { width: 18em; height: 2.2em; }
#reader { white-space: pre-wrap; max-height: 24em; overflow: auto; background: #fafafa; }
</style>
</head>
<body>
<header>
  <span>远程异地评标 · 工位 <b id="seat"></b></span>
  <span id="link" data-testid="link"></span>
  <span id="who"></span>
</header>
<main>
<section id="checkin-box">
  <h2>专家签到</h2>
  <form id="checkin-form">
    <label>评标会编号 <input name="session_id" id="session_id" inputmode="numeric"></label>
    <label>专家编号 <input name="expert_code" id="expert_code"></label>
    <label>签到码 <input name="pin" id="pin" inputmode="numeric" autocomplete="off"></label>
    <button type="submit" id="checkin-submit">签到</button>
  </form>
  <div id="checkin-message" data-testid="checkin-message"></div>
</section>

<section id="commitment-box" hidden>
  <h2>评标纪律承诺</h2>
  <p id="bidder-count" data-testid="bidder-count"></p>
  <p>本人承诺：与本项目投标人不存在利害关系，独立、客观、公正地评审，不泄露评审情况。
     如存在应当回避的情形，请申请回避。</p>
  <button id="commit-confirm">我已阅读并承诺</button>
  <input id="recuse-reason" placeholder="回避理由（如与投标人存在利害关系）" size="32">
  <button id="commit-recuse">申请回避</button>
  <div id="commitment-message" data-testid="commitment-message"></div>
</section>

<section id="chapters-box" hidden>
  <h2>评审材料（按本专家的顺序）</h2>
  <ol id="chapters" data-testid="chapters"></ol>
  <div id="reader" data-testid="reader"></div>
</section>

<section id="scoring-box" hidden>
  <h2>评分</h2>
  <label>评分部分 <select id="part"></select></label>
  <span id="part-progress" data-testid="part-progress"></span>
  <div id="sheet"></div>
  <button id="submit-scores">提交本部分评分</button>
  <span id="save-status" data-testid="save-status"></span>
  <div id="submit-message" class="problem" data-testid="submit-message"></div>
  <ul id="progress" data-testid="progress"></ul>
</section>

<section id="reviews-box" hidden>
  <h2>偏离复核</h2>
  <div id="reviews" data-testid="reviews"></div>
</section>

<section id="report-box" hidden>
  <h2>签署评标结果</h2>
  <div id="result" data-testid="result"></div>
  <label><input type="radio" name="decision" value="agree" checked> 同意</label>
  <label><input type="radio" name="decision" value="disagree"> 不同意（须书面说明理由）</label>
  <div><textarea id="sign-reason" placeholder="不同意见和理由"></textarea></div>
  <button id="sign-submit">签署</button>
  <div id="sign-message" data-testid="sign-message"></div>
</section>
</main>
<script>
"use strict";
let S = null;
let partShown = null;
let partsKey = null;
const $ = (id) => document.getElementById(id);

async function call(method, url, body) {
  const init = {method, headers: {}};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(url, init);
  let data = {};
  try { data = await resp.json(); } catch (e) { data = {}; }
  return {ok: resp.ok, status: resp.status, data};
}

function esc(text) {
  const d = document.createElement("div");
  d.textContent = text == null ? "" : String(text);
  return d.innerHTML;
}

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

function drawSheet() {
  const part = currentPart();
  partShown = part ? part.part : null;
  if (!part) { $("sheet").innerHTML = ""; return; }
  const last = (S.latest || {})[part.part];
  let html = "<table><tr><th>评审对象</th><th>评分项</th><th>分值</th>" +
             "<th>得分</th><th>评分理由</th></tr>";
  for (const subject of part.subjects) {
    for (const item of part.items) {
      const key = subject + "|" + item.id;
      const v = (last && last.values[key]) || {points: "", comment: ""};
      html += `<tr data-key="${esc(key)}"><td>${esc(subject)}</td>` +
        `<td>${esc(item.id)} ${esc(item.title)}</td>` +
        `<td>0–${esc(item.max)}（步长 ${esc(item.step)}）</td>` +
        `<td><input class="points" data-testid="points-${esc(key)}" value="${esc(v.points)}"></td>` +
        `<td><textarea class="comment" data-testid="comment-${esc(key)}">${esc(v.comment)}` +
        `</textarea><div class="problem" data-testid="problem-${esc(key)}"></div></td></tr>`;
    }
  }
  $("sheet").innerHTML = html + "</table>";
  validate();
}

let validating = 0;
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
    const show = p === "未评分" ? "" : p;
    row.querySelector(".problem").textContent = show;
    row.querySelector("input.points").classList.toggle("bad", show !== "");
  });
  $("part-progress").textContent = `已评 ${done}/${total} 项，` +
    (Object.keys(problems).length ? `尚有 ${Object.keys(problems).length} 处需处理` : "可以提交");
}

function drawChapters() {
  const list = S.chapters || [];
  $("chapters").innerHTML = list.map((c) => {
    const pct = c.size ? Math.floor(100 * c.received / c.size) : 100;
    const state = c.complete ? "已就绪" : `同步中 ${pct}%`;
    return `<li><a href="#" data-label="${esc(c.label)}">${esc(c.label)}</a> ` +
           `<span class="muted">${esc(c.title)} · ${state}</span></li>`;
  }).join("") || "<li class='muted'>评审材料尚未下发</li>";
}

function drawProgress() {
  const parts = S.briefing ? S.briefing.parts : [];
  const latest = S.latest || {};
  $("progress").innerHTML = parts.map((p) => {
    const l = latest[p.part];
    return `<li data-testid="progress-${esc(p.part)}">${esc(p.part)} ${esc(p.title)}：` +
           (l ? esc(l.label) : "未提交") + "</li>";
  }).join("");
  const l = partShown ? latest[partShown] : null;
  $("save-status").textContent = l ? l.label : "";
}

function drawReviews() {
  const box = $("reviews");
  const openIds = new Set();
  for (const r of S.reviews) {
    let el = box.querySelector(`[data-review="${r.id}"]`);
    if (!el) {
      el = document.createElement("div");
      el.dataset.review = r.id;
      el.innerHTML = `<p class="msg"></p><p class="spread"></p>` +
        `<textarea class="reason" placeholder="保留原评分的书面理由"></textarea>` +
        `<div><button class="keep">保留原评分并说明理由</button>` +
        `<button class="revise">已重新评分</button></div><p class="status"></p>`;
      el.querySelector(".keep").onclick = () => answer(r.id, "keep", el);
      el.querySelector(".revise").onclick = () => answer(r.id, "revise", el);
      box.appendChild(el);
    }
    openIds.add(String(r.id));
    el.querySelector(".msg").textContent = `复核请求 #${r.id}：${r.message}`;
    const sp = r.spread || {};
    el.querySelector(".spread").textContent =
      `您的评分 ${sp.yours}；其他专家（匿名，按分值排序）${(sp.others || []).join("、")}；平均 ${sp.mean}`;
    el.querySelector(".keep").disabled = !r.explainable || r.status === "sent" || r.status === "answered";
    el.querySelector(".revise").disabled = r.status === "sent" || r.status === "answered";
    const status = {open: "待答复", sent: "已发送，等待主场确认", answered: "已答复", refused: "未被接受"};
    el.querySelector(".status").textContent = status[r.status] + (r.result ? "：" + r.result : "");
  }
}

async function answer(id, kind, el) {
  const r = await call("POST", `/api/reviews/${id}`,
                       {answer: kind, reason: el.querySelector(".reason").value});
  el.querySelector(".status").textContent = r.ok ? "已发送，等待主场确认" : r.data.detail;
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
  $("checkin-message").textContent = msg;
  $("checkin-message").className = c.status === "accepted" ? "ok" : "problem";
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
  $("commitment-message").textContent = confirmed ? "已承诺，可以开始评审" + recorded :
    S.commitment === "recused" ? "已申请回避，本工位不再评分" + recorded : "";
  $("chapters-box").hidden = !confirmed;
  $("scoring-box").hidden = !confirmed;
  if (confirmed) {
    const key = JSON.stringify(S.briefing.parts.map((p) => p.part));
    if (key !== partsKey) {
      partsKey = key;
      $("part").innerHTML = S.briefing.parts.map(
        (p) => `<option value="${esc(p.part)}">${esc(p.part)} ${esc(p.title)}</option>`).join("");
      drawSheet();
    }
    drawChapters();
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
    $("sign-message").textContent = sig ? words[sig.status] + (sig.message ? "：" + sig.message : "") : "";
    $("sign-submit").disabled = !!sig && (sig.status === "sent" || sig.status === "signed");
  }
}

async function refresh() {
  const r = await call("GET", "/api/state");
  if (r.ok) { S = r.data; draw(); }
}

$("checkin-form").onsubmit = async (ev) => {
  ev.preventDefault();
  const r = await call("POST", "/api/checkin", {
    session_id: $("session_id").value, expert_code: $("expert_code").value, pin: $("pin").value});
  if (!r.ok) {
    $("checkin-message").textContent = r.data.detail +
      Object.values(r.data.problems || {}).map((p) => "；" + p).join("");
  }
  $("pin").value = "";
  refresh();
};
async function decide(decision) {
  const r = await call("POST", "/api/commitment",
                       {decision, reason: $("recuse-reason").value});
  if (!r.ok) $("commitment-message").textContent = r.data.detail;
  refresh();
}
$("commit-confirm").onclick = () => decide("confirmed");
$("commit-recuse").onclick = () => decide("recused");
$("chapters").onclick = async (ev) => {
  const a = ev.target.closest("a[data-label]");
  if (!a) return;
  ev.preventDefault();
  const r = await call("GET", "/api/chapters/" + encodeURIComponent(a.dataset.label));
  $("reader").textContent = r.ok ? r.data.text : r.data.detail;
};
$("part").onchange = () => { drawSheet(); drawProgress(); };
$("sheet").addEventListener("input", () => validate());
$("submit-scores").onclick = async () => {
  const part = currentPart();
  if (!part) return;
  const r = await call("POST", "/api/scores", {part: part.part, values: formValues()});
  $("submit-message").textContent = r.ok ? "" : r.data.detail;
  if (!r.ok) { validate(); return; }
  await refresh();
};
$("sign-submit").onclick = async () => {
  const decision = document.querySelector("input[name=decision]:checked").value;
  const r = await call("POST", "/api/signature", {decision, reason: $("sign-reason").value});
  $("sign-message").textContent = r.ok ? "已提交，等待主场确认" : r.data.detail;
  refresh();
};
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
"""
