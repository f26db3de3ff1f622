// The expert pool page (专家库): the system administrator imports the pool's export and the
// credit blacklist (the file is sent as it is; the hub checks every row and imports all or
// nothing), and reads both. Pages hold no rules.
"use strict";

// Sends a file as the request body; the hub answers with the counts or a problem listing
// every bad row.
async function upload(path, file) {
  const res = await fetch(path, {
    method: "POST",
    headers: { ...PAGE_HEADERS, "Content-Type": "application/octet-stream" },
    body: file,
    credentials: "same-origin",
  });
  const data = await res.json();
  if (!res.ok) {
    const err = new Error(data.detail || data.title || `请求失败（${res.status}）`);
    err.status = res.status;
    err.problems = data.problems || [];
    throw err;
  }
  return data;
}

function showProblems(problems) {
  $("#problems").hidden = !problems.length;
  $("#problems tbody").replaceChildren(...problems.map((p) => el("tr", {},
    el("td", { textContent: String(p.line) }), el("td", { textContent: p.column }),
    el("td", { textContent: p.message }))));
}

async function render() {
  const experts = await api("GET", "/api/pool/experts");
  $("#expert-count").textContent = `共 ${experts.length} 名`;
  $("#experts tbody").replaceChildren(...experts.map((e) => el("tr", { "data-code": e.code },
    el("td", { textContent: e.code }), el("td", { textContent: e.name }),
    el("td", { textContent: e.employer }),
    el("td", { textContent: e.former_employers.map((f) => `${f.employer}（${f.left_year}）`).join("；") }),
    el("td", { textContent: e.home_region }), el("td", { textContent: e.specialties.join("、") }),
    el("td", { textContent: e.phone }))));
  const entries = await api("GET", "/api/pool/blacklist");
  $("#blacklist tbody").replaceChildren(...entries.map((b) => el("tr", {},
    el("td", { textContent: b.expert_code }), el("td", { textContent: b.name }),
    el("td", { textContent: b.employer }), el("td", { textContent: b.reason }),
    el("td", { textContent: b.until }))));
}

function importer(form, fileInput, dryRun, path, what) {
  $(form).addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = $(fileInput).files[0];
    if (!file) return;
    const dry = $(dryRun).checked;
    try {
      const r = await upload(`${path}${dry ? "?dry_run=true" : ""}`, file);
      showProblems([]);
      const verb = r.dry_run ? "检查通过，可导入" : "已导入";
      showMessage(`${what}${verb} ${r.rows} 条：新增 ${r.added}，更新 ${r.updated}，未变 ${r.unchanged}（${r.format}，SHA-256 ${r.sha256.slice(0, 16)}…）`, true);
      await render();
    } catch (err) {
      showMessage(err.message);
      showProblems(err.problems || []);
    }
  });
}

importer("#experts-form", "#experts-file", "#experts-dry-run", "/api/pool/experts/import", "专家库");
importer("#blacklist-form", "#blacklist-file", "#blacklist-dry-run", "/api/pool/blacklist/import", "信用黑名单");

setupSignIn("#pool-panel", async () => {
  try { await render(); } catch (err) { showMessage(err.message); }
}, () => {
  for (const sel of ["#experts tbody", "#blacklist tbody", "#problems tbody"]) $(sel).replaceChildren();
  $("#problems").hidden = true;
  $("#expert-count").textContent = "";
});
