// The host's evaluation console (评审控制台): the bid package and its checks, chapter delivery per
// seat, the scoring board, the deviation review, seal, reveal, the result and the signatures.
// It holds no rules: every panel is the hub's answer (GET …), every button asks the hub, and a
// refusal's text is shown as the hub words it. The session's event stream (…/evaluation/events)
// opens with a snapshot (the session and what this user may do) and then says when anything
// changed; the page then reads everything again, so it never shows a state the hub did not say.
"use strict";

// Lifecycle moves the evaluation makes itself, with its own checks (the rest: POST …/actions).
const EVALUATION_MOVES = { begin_deviation_review: "review", seal: "seal", reveal: "reveal" };
const ANSWER_NAMES = { keep: "保留原评分", revise: "已重新评分", settled: "已自动关闭（各专家评分已一致）" };
const SOURCE_NAMES = { seat: "工位", host: "主场代录" };

let stream = null;       // EventSource of the selected session
let may = { run_evaluation: false, release_chapters: false };  // from the stream's snapshot
let generation = 0;      // bumped on a new session or user: older answers are dropped
let loading = null;      // the reload running now
let again = false;       // a change arrived while it ran: read once more after it
let shown = null;        // the answers on screen
const drafts = new Map(); // what the user is typing, by field, kept across redraws

const sessionId = () => Number($("#session").value);
const evaluationPath = (sid) => `/api/sessions/${sid}/evaluation`;
// The report exists as PDF once every member signed (report_pdf.py: REPORT_FINAL).
const REPORT_FINAL = ["report_signed", "archived"];

// Like common.js's api(), with the problem's code: some refusals are states to show.
async function request(method, path, body) {
  return answered(await fetch(path, {
    method,
    headers: body === undefined ? { ...PAGE_HEADERS } : { ...PAGE_HEADERS, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  }));
}

// A file as the request body (the hub looks at its bytes, not at its type).
async function uploadFile(path, file) {
  return answered(await fetch(`${path}?filename=${encodeURIComponent(file.name)}`, {
    method: "POST",
    headers: { ...PAGE_HEADERS, "Content-Type": file.type || "application/octet-stream" },
    body: file,
    credentials: "same-origin",
  }));
}

async function answered(res) {
  const data = await res.json();
  if (!res.ok) {
    const err = new Error(data.detail || data.title || `请求失败（${res.status}）`);
    err.status = res.status;
    err.code = String(data.type || "").split("/").pop();
    err.problems = data.problems || [];
    throw err;
  }
  return data;
}

// The hub's answer, or null while no bid package is attached.
async function unlessNoPackage(path) {
  try {
    return await request("GET", path);
  } catch (err) {
    if (err.status === 409 && err.code === "no-package") return null;
    throw err;
  }
}

// --- signing in, choosing the session, the stream ---------------------------------------

async function signedIn() {
  const sessions = await request("GET", "/api/sessions");
  $("#session").replaceChildren(...sessions.map((s) =>
    el("option", { value: s.id, textContent: `${s.project_name} ${s.section}（${beijingText(s.starts_at)}）` })));
  $("#no-sessions").hidden = sessions.length > 0;
  const wanted = new URLSearchParams(location.search).get("session");
  if (wanted && sessions.some((s) => String(s.id) === wanted)) $("#session").value = wanted;
  selectSession();
}

function signedOut() {
  closeStream();
  generation += 1;
  drafts.clear();
  shown = null;
  may = { run_evaluation: false, release_chapters: false };
  $("#session").replaceChildren();
  $("#no-sessions").hidden = true;
  clearPanels();
}

function closeStream() {
  if (stream) { stream.close(); stream = null; }
  $("#live").textContent = "";
}

function selectSession() {
  generation += 1;
  drafts.clear();
  shown = null;
  may = { run_evaluation: false, release_chapters: false };
  clearPanels();
  closeStream();
  const sid = sessionId();
  if (!sid) return;
  history.replaceState(null, "", `/console?session=${sid}`);
  const source = new EventSource(`${evaluationPath(sid)}/events`);
  stream = source;
  source.onopen = () => { $("#live").textContent = "实时更新中"; };
  source.onmessage = (ev) => {
    const event = JSON.parse(ev.data);
    if (stream !== source || event.session_id !== sid) return;
    if (event.type === "snapshot") may = event.may;
    reload();
  };
  source.onerror = () => {
    if (stream !== source) return;
    if (source.readyState === EventSource.CLOSED) {
      // Refused (or gone): reading through the API shows the hub's own words.
      $("#live").textContent = "实时连接已断开";
      reload();
    } else {
      $("#live").textContent = "实时连接中断，正在重新连接…";
    }
  };
}

// --- reading -------------------------------------------------------------------------------

function reload() {
  again = true;
  if (loading) return loading;
  loading = (async () => {
    while (again) {
      again = false;
      await readOnce();
    }
    loading = null;
  })();
  return loading;
}

async function readOnce() {
  const sid = sessionId();
  const asked = generation;
  if (!sid) return;
  let answers;
  try {
    const path = evaluationPath(sid);
    const [lifecycle, overview, report, board] = await Promise.all([
      request("GET", `/api/sessions/${sid}/lifecycle`),
      unlessNoPackage(path),
      unlessNoPackage(`${path}/package`),
      request("GET", `/api/sessions/${sid}/chapters`),
    ]);
    const result = overview && overview.seed.revealed_seed ? await request("GET", `${path}/result`) : null;
    const signals = report ? await request("GET", `${path}/signals`) : null;
    answers = { sid, lifecycle, overview, report, board, result, signals };
  } catch (err) {
    if (asked === generation) showMessage(err.message);
    return;
  }
  if (asked !== generation || sid !== sessionId()) return;
  shown = answers;
  redraw();
}

// --- drawing -------------------------------------------------------------------------------

function clearPanels() {
  for (const sel of ["#actions", "#report-facts", "#flagged tbody", "#similarity tbody", "#deliveries tbody",
                     "#board thead tr", "#board tbody", "#refused tbody", "#requests tbody", "#ranking tbody",
                     "#signatures tbody"]) {
    $(sel).replaceChildren();
  }
  for (const sel of ["#state", "#anonymity-summary", "#similarity-summary", "#delivery-summary", "#scoring-summary",
                     "#review-summary", "#seed", "#benchmark", "#candidates", "#signature-summary"]) {
    $(sel).textContent = "";
  }
  for (const sel of ["#attach-form", "#package-problems", "#import-report", "#no-package", "#scoring-panel", "#review-panel",
                     "#result-panel", "#signature-panel", "#release", "#review-round"]) {
    $(sel).hidden = true;
  }
}

// A field whose text survives redraws (and keeps the focus and the caret).
function draftField(key, attrs) {
  const input = el("input", { ...attrs, value: drafts.get(key) || "", "data-draft": key });
  input.addEventListener("input", () => drafts.set(key, input.value));
  return input;
}

function redraw() {
  const active = document.activeElement;
  const focused = active && active.dataset && active.dataset.draft
    ? { key: active.dataset.draft, start: active.selectionStart, end: active.selectionEnd } : null;
  const { lifecycle, overview, report, board, result, signals } = shown;
  drawLifecycle(lifecycle);
  drawPackage(overview, report);
  if (signals) renderSignals($("#signals"), signals);
  else $("#signals").replaceChildren();
  drawDelivery(board);
  drawScoring(overview, report);
  drawReview(overview, report, lifecycle);
  drawResult(result);
  drawSignatures(overview, result, lifecycle);
  if (focused) {
    const node = document.querySelector(`[data-draft="${CSS.escape(focused.key)}"]`);
    if (node) {
      node.focus();
      if (focused.start !== null) node.setSelectionRange(focused.start, focused.end);
    }
  }
}

function drawLifecycle(view) {
  $("#state").textContent = `当前状态：${view.state_name}`;
  $("#read-only").hidden = may.run_evaluation;
  $("#reason-field").hidden = !may.run_evaluation;
  const actions = may.run_evaluation ? view.allowed_actions : [];
  $("#actions").replaceChildren(...actions.map((a) => {
    const button = el("button", { type: "button", textContent: a.name, "data-action": a.action });
    button.addEventListener("click", () => act(a));
    return button;
  }));
}

// --- acting (the hub decides; its refusal is shown as it words it) ---------------------------

async function attempt(work) {
  const asked = generation;
  try {
    const text = await work();
    if (asked === generation) showMessage(text, true);
  } catch (err) {
    if (asked === generation) showMessage(err.message);
  }
  reload();
}

function act(action) {
  const sid = sessionId();
  return attempt(async () => {
    const route = EVALUATION_MOVES[action.action];
    if (route === "review") return reviewMessage(await request("POST", `${evaluationPath(sid)}/review`));
    if (route) {
      await request("POST", `${evaluationPath(sid)}/${route}`);
    } else {
      const body = { action: action.action };
      if ($("#reason").value.trim()) body.reason = $("#reason").value;
      await request("POST", `/api/sessions/${sid}/actions`, body);
      $("#reason").value = "";
    }
    return `已${action.name}。`;
  });
}

function reviewMessage(round) {
  return round.created.length
    ? `已发起第 ${round.created[0].round} 轮偏离复核，发出 ${round.created.length} 项复核请求。`
    : "已发起偏离复核，没有需要复核的评分。";
}

// Every problem of a refused package, by file and place (the hub's whole check report).
function showPackageProblems(problems) {
  $("#package-problems").hidden = problems.length === 0;
  $("#package-problems tbody").replaceChildren(...problems.map((p) => el("tr", {},
    el("td", { textContent: p.file }), el("td", { textContent: p.field }),
    el("td", { textContent: p.message }))));
}

function attachWith(send, done) {
  return attempt(async () => {
    showPackageProblems([]);
    try {
      await send();
    } catch (err) {
      showPackageProblems(err.problems || []);
      throw err;
    }
    done();
    return "已导入标书包。";
  });
}

function uploadPackage(ev) {
  ev.preventDefault();
  const sid = sessionId();
  const file = $("#package-file").files[0];
  return attachWith(() => uploadFile(`${evaluationPath(sid)}/package/upload`, file),
                    () => { $("#package-file").value = ""; });
}

function attachPackage(ev) {
  ev.preventDefault();
  const sid = sessionId();
  return attachWith(
    () => request("POST", `${evaluationPath(sid)}/package`, { path: $("#package-path").value.trim() }),
    () => { $("#package-path").value = ""; });
}

function recordOverride(bidder, chapter, key) {
  const sid = sessionId();
  return attempt(async () => {
    await request("POST", `${evaluationPath(sid)}/overrides`,
      { bidder_id: bidder, chapter_id: chapter, reason: drafts.get(`override:${key}`) || "" });
    drafts.delete(`override:${key}`);
    return `已记录 ${key} 的放行理由。`;
  });
}

function releaseChapters() {
  const sid = sessionId();
  return attempt(async () => {
    const done = await request("POST", `/api/sessions/${sid}/chapters`);
    return `已向 ${done.seats.length} 个工位发放章节`
      + (done.skipped.length ? `，${done.skipped.length} 个工位未能发放` : "") + "。";
  });
}

function startRound() {
  const sid = sessionId();
  return attempt(async () => reviewMessage(await request("POST", `${evaluationPath(sid)}/review`)));
}

function answerRequest(id, answer) {
  const sid = sessionId();
  return attempt(async () => {
    await request("POST", `${evaluationPath(sid)}/review-requests/${id}/answer`,
      { answer, reason: drafts.get(`answer:${id}`) || "" });
    drafts.delete(`answer:${id}`);
    return `已登记复核请求 #${id} 的答复：${ANSWER_NAMES[answer]}。`;
  });
}

$("#session").addEventListener("change", () => { showMessage(""); selectSession(); });
$("#upload-form").addEventListener("submit", uploadPackage);
$("#path-form").addEventListener("submit", attachPackage);
$("#release").addEventListener("click", releaseChapters);
$("#review-round").addEventListener("click", startRound);
setupSignIn("#console-panel", signedIn, signedOut);
