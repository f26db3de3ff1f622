// Creating a session and forming its committee (创建评标会、组建评标委员会), for the host
// operator: the session with its procurement type, budget, window and composition; the drawn
// experts from the pool's draw record or one by one; the purchaser's representatives. The hub
// decides: a refusal of automatic recusal (智能回避) is shown with the hub's reason.
"use strict";

const sessionId = () => Number($("#session").value);
const PLACES = { host: "主场", away: "客场" };
const DECISIONS = { pending: "待确认", confirmed: "已确认承诺", recused: "已回避" };

function refusal(text) {
  $("#refusals").append(el("li", { textContent: text }));
}

async function loadSessions(select) {
  const sessions = await api("GET", "/api/sessions");
  $("#session").replaceChildren(...sessions.map((s) =>
    el("option", { value: s.id, textContent: `#${s.id} ${s.project_name} ${s.section}（${beijingText(s.starts_at)}）` })));
  const wanted = select ? String(select) : new URLSearchParams(location.search).get("session");
  if (wanted && sessions.some((s) => String(s.id) === wanted)) $("#session").value = wanted;
}

// The chosen session stays in the address, so a reload shows it again.
function remember() {
  history.replaceState(null, "", `/sessions?session=${sessionId()}`);
}

async function loadPool() {
  const experts = await api("GET", "/api/pool/experts");
  $("#expert").replaceChildren(...experts.map((e) =>
    el("option", { value: e.id, textContent: `${e.code} ${e.name}（${e.employer}）` })));
}

async function renderCommittee() {
  const sid = sessionId();
  if (!sid) return;
  $("#console-link").href = `/console?session=${sid}`;
  const session = await api("GET", `/api/sessions/${sid}`);
  const budget = session.budget === null ? "" : `，预算 ${session.budget} 元`;
  $("#session-facts").textContent = `${session.procurement_type_name}${budget}；评标委员会 ${session.committee_size} 人，其中采购人代表 ${session.representatives} 人`;
  const committee = await api("GET", `/api/sessions/${sid}/committee`);
  $("#members tbody").replaceChildren(...committee.members.map((m) => el("tr", { "data-member": m.code },
    el("td", { textContent: m.code }), el("td", { textContent: m.name }), el("td", { textContent: m.title }),
    el("td", { textContent: PLACES[m.placement] || m.placement }),
    el("td", { textContent: DECISIONS[m.decision] || m.decision }))));
  $("#composition").textContent = `已登记 ${committee.members.length} 人`;
  $("#must-replace").replaceChildren(...committee.must_replace.flatMap((m) =>
    m.reasons.map((r) => el("li", { textContent: `须更换：${r.message}` }))));
}

async function guarded(work) {
  try {
    await work();
  } catch (err) {
    showMessage(err.message);
  }
}

$("#create-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  guarded(async () => {
    const day = $("#day").value;
    const body = {
      project_code: $("#project-code").value.trim(),
      project_name: $("#project-name").value.trim(),
      section: $("#section").value.trim(),
      procurement_type: $("#procurement-type").value,
      starts_at: `${day}T${$("#starts").value}:00+08:00`,
      ends_at: `${day}T${$("#ends").value}:00+08:00`,
      committee_size: Number($("#committee-size").value),
      representatives: Number($("#representatives").value || 0),
    };
    if ($("#budget").value !== "") body.budget = Number($("#budget").value);
    const created = await api("POST", "/api/sessions", body);
    showMessage(`已创建评标会 #${created.id}：${created.project_name} ${created.section}`, true);
    await loadSessions(created.id);
    remember();
    await renderCommittee();
  });
});

$("#draw-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  guarded(async () => {
    const file = $("#draw-file").files[0];
    if (!file) return;
    const res = await fetch(`/api/sessions/${sessionId()}/draw-record`, {
      method: "POST",
      headers: { ...PAGE_HEADERS, "Content-Type": "application/octet-stream" },
      body: file,
      credentials: "same-origin",
    });
    const data = await res.json();
    if (!res.ok) {
      const rows = (data.problems || []).map((p) => `第 ${p.line} 行「${p.column}」：${p.message}`);
      throw new Error([data.detail, ...rows].join("；"));
    }
    for (const r of data.refused) r.reasons.forEach(refusal);
    showMessage(`已登记 ${data.added.length} 名专家，自动回避 ${data.refused.length} 名`, true);
    await renderCommittee();
  });
});

$("#expert-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  guarded(async () => {
    try {
      const added = await api("POST", `/api/sessions/${sessionId()}/experts`,
        { expert_id: Number($("#expert").value), placement: $("#placement").value });
      showMessage(`已登记专家 ${added.code} ${added.name}`, true);
    } catch (err) {
      if (err.status !== 409) throw err;
      refusal(err.message);
      showMessage(err.message);
    }
    await renderCommittee();
  });
});

$("#rep-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  guarded(async () => {
    const added = await api("POST", `/api/sessions/${sessionId()}/representatives`, {
      code: $("#rep-code").value.trim(), name: $("#rep-name").value.trim(),
      employer: $("#rep-employer").value.trim(), placement: "host",
    });
    showMessage(`已登记采购人代表 ${added.code} ${added.name}`, true);
    await renderCommittee();
  });
});

$("#session").addEventListener("change", () => {
  $("#refusals").replaceChildren();
  remember();
  guarded(renderCommittee);
});

setupSignIn("#sessions-panel", () => guarded(async () => {
  await loadSessions();
  await loadPool();
  await renderCommittee();
}), () => {
  for (const sel of ["#session", "#expert", "#members tbody", "#refusals", "#must-replace"]) $(sel).replaceChildren();
  $("#session-facts").textContent = "";
  $("#composition").textContent = "";
});
