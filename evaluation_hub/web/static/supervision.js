// The supervisors' page: the joint supervision record of a session, presence at check-in,
// incidents, 函告, copy notices and handovers. It holds no rules: the API decides what each supervisor may see and do,
// and the page only hides buttons the caller could not use anyway.
"use strict";

let me = null;
let record = null;  // the selected session's supervision record

const sessionId = () => $("#session").value;
const isHost = () => me && me.role === "supervisor" && record && record.scope === "all";

function cell(...children) { return el("td", {}, ...children); }

function siteText(site) {
  return site ? `${site.venue_name}（${site.supervising_department}）` : "未安排";
}

function statusCell(item) {
  const td = el("td", { class: item.status });
  td.append(item.status_label);
  if (item.overdue) td.append(el("span", { class: "overdue-mark", textContent: "逾期" }));
  return td;
}

function dueText(item) {
  const left = item.working_days_left;
  const suffix = item.status === "acknowledged" || left === null ? ""
    : left >= 0 ? `（剩 ${left} 个工作日）` : `（已超 ${-left} 个工作日）`;
  return `${item.due_on} 前${suffix}`;
}

// A button with an optional text input beside it; `act(text)` runs the API call.
function action(label, cls, act, placeholder) {
  const td = el("td", { class: "actions" });
  const input = placeholder ? el("input", { placeholder }) : null;
  const button = el("button", { type: "button", class: cls, textContent: label });
  button.addEventListener("click", async () => {
    try {
      await act(input ? input.value.trim() : undefined);
      await refresh();
    } catch (err) { showMessage(err.message); }
  });
  if (input) td.append(input);
  td.append(button);
  return td;
}

function clearTables() {
  for (const id of ["#record", "#presence", "#incidents", "#assistance", "#notices", "#handovers"]) {
    $(`${id} tbody`).replaceChildren();
  }
  $("#incident-form select[name=expert_id]").replaceChildren();
  $("#assistance-form select[name=venue_id]").replaceChildren();
  $("#scope").textContent = "";
  $("#signals").replaceChildren();
}

async function signedIn(who) {
  me = who;
  const sessions = await api("GET", "/api/supervision/sessions");
  const select = $("#session");
  select.replaceChildren();
  for (const s of sessions) {
    const role = s.role === "host" ? "主场" : "客场";
    select.append(el("option", { value: s.id, textContent: `#${s.id} ${s.project_name} ${s.section}（${role}）` }));
  }
  $("#no-sessions").hidden = sessions.length > 0;
  await refresh();
}

function signedOut() {
  // Nothing the previous supervisor saw may stay in the page for the next one.
  me = null;
  record = null;
  $("#session").replaceChildren();
  clearTables();
  for (const node of document.querySelectorAll(".host-only")) node.hidden = true;
}

async function refresh() {
  if (!sessionId()) { clearTables(); return; }
  const id = sessionId();
  const [rec, presence, incidents, assistance, notices, handovers, signals] = await Promise.all([
    api("GET", `/api/sessions/${id}/supervision`),
    api("GET", `/api/sessions/${id}/presence`),
    api("GET", `/api/sessions/${id}/incidents`),
    api("GET", `/api/sessions/${id}/assistance-requests`),
    api("GET", `/api/sessions/${id}/copy-notices`),
    api("GET", `/api/sessions/${id}/handovers`),
    api("GET", `/api/sessions/${id}/supervision/signals`),
  ]);
  record = rec;
  clearTables();
  for (const node of document.querySelectorAll(".host-only")) node.hidden = !isHost();
  $("#scope").textContent = rec.scope === "all" ? "可见范围：全部专家" : "可见范围：在本场地就座的专家";
  renderRecord(rec);
  renderPresence(presence);
  renderIncidents(incidents);
  renderAssistance(assistance);
  renderNotices(notices);
  renderHandovers(handovers);
  renderSignals($("#signals"), signals);
}

function renderRecord(rec) {
  const experts = $("#incident-form select[name=expert_id]");
  const venues = $("#assistance-form select[name=venue_id]");
  const away = new Map();
  for (const row of rec.experts) {
    const e = row.expert;
    $("#record tbody").append(el("tr", { "data-expert": e.code },
      cell(`${e.code} ${e.name}`), cell(row.placement === "host" ? "主场" : "客场"),
      cell(row.seat ? row.seat.label : "—"), cell(siteText(row.primary_site)), cell(siteText(row.secondary_site))));
    experts.append(el("option", { value: e.id, textContent: `${e.code} ${e.name}` }));
    const site = row.secondary_site;
    if (site && site.venue_id !== rec.session.host_venue_id) away.set(site.venue_id, site.venue_name);
  }
  for (const [vid, name] of away) venues.append(el("option", { value: vid, textContent: name }));
}

// 签到在场核验: what each checked-in expert's seat picture showed at check-in; an unconfirmed
// one may be confirmed by hand by a host supervisor, with the reason.
function renderPresence(rows) {
  for (const p of rows) {
    const byHand = p.confirmed_by ? `${p.confirmed_by}，${beijingText(p.confirmed_at)}：${p.reason}` : "—";
    const row = el("tr", { "data-presence": p.expert_code, class: p.presence || "" },
      cell(p.expert_code), cell(p.venue.name), cell(p.seat.label),
      cell(p.checked_in_at ? beijingText(p.checked_in_at) : "—"),
      el("td", { class: "presence", textContent: p.presence_name }), cell(p.note || "—"), cell(byHand));
    row.append(isHost() && p.presence === "unconfirmed"
      ? action("人工确认在场", "confirm-presence", (reason) => api("POST",
          `/api/sessions/${p.session_id}/presence/${encodeURIComponent(p.expert_code)}/confirm`, { reason }),
          "核实情况与理由")
      : cell(""));
    $("#presence tbody").append(row);
  }
}

function renderIncidents(incidents) {
  for (const i of incidents) {
    const evidence = [];
    if (i.evidence.recording_segment_id) evidence.push(`录像 ${i.evidence.recording_segment_id} 第 ${i.evidence.offset_s ?? 0} 秒`);
    if (i.evidence.audit_seqs && i.evidence.audit_seqs.length) evidence.push(`审计事件 ${i.evidence.audit_seqs.join("、")}`);
    const occurrences = i.evidence.occurrences || [];
    if (occurrences.length) {
      // An automatic incident: how often the alert fired and how long the cleared ones lasted.
      const cleared = occurrences.filter((o) => o.cleared_at);
      const seconds = cleared.reduce((sum, o) => sum + (o.duration_s || 0), 0);
      const open = occurrences.length - cleared.length;
      evidence.push(`告警 ${occurrences.length} 次（已解除 ${cleared.length} 次，合计 ${seconds} 秒${open ? `；${open} 次仍在持续` : ""}）`);
    }
    const notes = el("ul", {});
    for (const h of i.handling) notes.append(el("li", { textContent: `${beijingText(h.at)} ${h.by}：${h.note}` }));
    if (i.result) notes.append(el("li", { textContent: `结果：${i.result}（${i.concluded_by}，${beijingText(i.concluded_at)}）` }));
    const row = el("tr", { "data-incident": i.id },
      cell(`#${i.id}`), cell(`${i.expert.code} ${i.expert.name}`),
      cell(i.venue ? i.venue.venue_name : "未安排"), cell(i.kind), cell(i.severity_label),
      cell(i.state_label), cell(evidence.join("；") || "—"), cell(notes));
    if (isHost() && i.state !== "concluded") {
      const td = action("记录处理", "handle", (note) => api("POST", `/api/incidents/${i.id}/handling`, { note }), "处理情况");
      const done = action("结案", "conclude", (result) => api("POST", `/api/incidents/${i.id}/conclude`, { result }), "处理结果");
      td.append(...done.childNodes);
      row.append(td);
    } else {
      row.append(cell(""));
    }
    $("#incidents tbody").append(row);
  }
}

function renderAssistance(rows) {
  for (const r of rows) {
    const answer = r.answered ? `${r.response}（${r.responded_by}，${beijingText(r.responded_at)}）` : "未答复";
    const row = el("tr", { "data-assistance": r.id },
      cell(`#${r.id}`), cell(r.venue.venue_name), cell(`${r.requested_by}，${beijingText(r.requested_at)}`),
      cell(r.content), cell(answer));
    const mine = me.role === "supervisor" && me.venue_id === r.venue.venue_id;
    row.append(mine && !r.answered
      ? action("答复", "respond", (response) => api("POST", `/api/assistance-requests/${r.id}/respond`, { response }), "答复内容")
      : cell(""));
    $("#assistance tbody").append(row);
  }
}

function renderNotices(notices) {
  for (const n of notices) {
    const ack = n.acknowledged_by ? `${n.acknowledged_by}，${beijingText(n.acknowledged_at)}` : "—";
    const row = el("tr", { "data-notice": n.id, class: n.overdue ? "overdue" : "" },
      cell(`#${n.id}`), cell(`#${n.incident_id}`), cell(`${n.expert.code} ${n.expert.name}`),
      cell(n.department), cell(n.case_closed_on), el("td", { class: "due", textContent: dueText(n) }),
      statusCell(n), cell(ack));
    const mine = me.role === "supervisor" && me.venue_id === n.venue.venue_id;
    row.append(mine && n.status !== "acknowledged"
      ? action("确认接收", "acknowledge", () => api("POST", `/api/copy-notices/${n.id}/acknowledge`))
      : cell(""));
    $("#notices tbody").append(row);
  }
}

function renderHandovers(handovers) {
  for (const h of handovers) {
    const by = h.handed_over_by ? `${h.handed_over_by}，${beijingText(h.handed_over_at)}` : "—";
    const row = el("tr", { "data-handover": h.id, class: h.overdue ? "overdue" : "" },
      cell(`#${h.id}`), cell(h.venue.venue_name), cell(h.session_ended_on),
      el("td", { class: "due", textContent: dueText(h) }), cell(h.items.join("、")), statusCell(h), cell(by));
    const mine = me.role === "supervisor" && me.venue_id === h.venue.venue_id;
    row.append(mine && h.status !== "acknowledged"
      ? action("标记已移交", "handed-over", () => api("POST", `/api/handovers/${h.id}/handed-over`))
      : cell(""));
    $("#handovers tbody").append(row);
  }
}

$("#incident-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const evidence = {};
  if (form.get("segment")) evidence.recording_segment_id = form.get("segment");
  if (form.get("offset")) evidence.offset_s = Number(form.get("offset"));
  try {
    const made = await api("POST", `/api/sessions/${sessionId()}/incidents`, {
      expert_id: Number(form.get("expert_id")), kind: form.get("kind"), severity: form.get("severity"),
      description: form.get("description"), evidence,
    });
    ev.target.reset();
    showMessage(`监督事件 #${made.id} 已登记。`, true);
    await refresh();
  } catch (err) { showMessage(err.message); }
});

$("#assistance-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  try {
    const made = await api("POST", `/api/sessions/${sessionId()}/assistance-requests`, {
      venue_id: Number(form.get("venue_id")), content: form.get("content"),
    });
    ev.target.reset();
    showMessage(`函告 #${made.id} 已发出。`, true);
    await refresh();
  } catch (err) { showMessage(err.message); }
});

$("#open-handovers").addEventListener("click", async () => {
  try {
    await api("POST", `/api/sessions/${sessionId()}/handovers`);
    showMessage("已为各客场开启资料移交。", true);
    await refresh();
  } catch (err) { showMessage(err.message); }
});

$("#session").addEventListener("change", () => refresh().catch((err) => showMessage(err.message)));
$("#refresh").addEventListener("click", () => refresh().catch((err) => showMessage(err.message)));

setupSignIn("#supervision-panel", signedIn, signedOut);
