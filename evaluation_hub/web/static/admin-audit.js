// 操作日志: the administrative changes — every one for the system administrator, a venue
// admin's own venue's for them — newest first, with what each changed before and after.
"use strict";

(() => {
  let next = null;  // the sequence number to page back from

  function fields(values, names) {
    const entries = Object.entries(values);
    if (!entries.length) return "—";
    return entries.map(([k, v]) => `${names[k] || k}：${show(v)}`).join("；");
  }

  function show(v) {
    if (v === null || v === undefined || v === "") return "（空）";
    if (v === true) return "是";
    if (v === false) return "否";
    if (Array.isArray(v)) return v.length ? v.join("、") : "（无）";
    return String(v);
  }

  function row(c) {
    return el("tr", { "data-seq": String(c.seq), "data-kind": c.kind },
      el("td", {}, beijingText(c.at)), el("td", {}, c.actor), el("td", { className: "kind" }, c.kind_name),
      el("td", { className: "subject" }, c.subject), el("td", {}, c.venue_code || "—"),
      el("td", { className: "change-fields before" }, fields(c.before, c.field_names)),
      el("td", { className: "change-fields after" }, fields(c.after, c.field_names)));
  }

  async function load(more) {
    const params = new URLSearchParams();
    const venue = $("#audit-venue").value;
    if (venue) params.set("venue_id", venue);
    if (more && next !== null) params.set("before", String(next));
    const log = await api("GET", `/api/admin/changes?${params}`);
    const rows = log.changes.map(row);
    if (more) $("#audit tbody").append(...rows);
    else $("#audit tbody").replaceChildren(...rows);
    next = log.next_before;
    $("#audit-more").hidden = next === null;
  }

  Manage.register({
    id: "audit",
    title: "操作日志",
    visible: (me) => me.role === "system_admin" || me.role === "venue_admin",
    async show() {
      Manage.fillVenueSelect($("#audit-venue"), { all: "全部场地" });
      await load(false);
    },
    reset() {
      next = null;
      $("#audit tbody").replaceChildren();
      $("#audit-venue").replaceChildren();
      $("#audit-more").hidden = true;
    },
  });

  window.addEventListener("DOMContentLoaded", () => {
    $("#audit-venue").addEventListener("change", () => attempt(() => load(false)));
    $("#audit-more").addEventListener("click", () => attempt(() => load(true)));
  });
})();
