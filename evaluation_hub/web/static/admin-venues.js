// 场地管理: the system administrator registers venues, changes them, disables and re-enables them.
"use strict";

(() => {
  const form = () => $("#venue-form");
  let editing = null;  // the venue being changed, or null when the form registers a new one

  function number(text) {
    const t = text.trim();
    return t === "" ? undefined : Number(t);
  }

  function resetForm() {
    editing = null;
    form().reset();
    form().elements.code.disabled = false;
    $("#venue-form-title").textContent = "登记场地";
    $("#venue-submit").textContent = "登记场地";
    $("#venue-cancel").hidden = true;
  }

  function edit(v) {
    editing = v;
    const f = form().elements;
    for (const name of ["code", "name", "region_code", "supervising_department", "contact_name", "contact_phone"]) f[name].value = v[name] || "";
    f.latitude.value = v.latitude === null ? "" : String(v.latitude);
    f.longitude.value = v.longitude === null ? "" : String(v.longitude);
    f.code.disabled = true;  // a venue's code prefixes its seat keys and never changes
    $("#venue-form-title").textContent = `修改场地 ${v.code}`;
    $("#venue-submit").textContent = "保存修改";
    $("#venue-cancel").hidden = false;
  }

  function row(v) {
    const toggle = el("button", { type: "button", className: "toggle", textContent: v.enabled ? "停用" : "启用" });
    toggle.addEventListener("click", () => attempt(async () => {
      await api("PATCH", `/api/venues/${v.id}`, { enabled: !v.enabled });
      await Manage.loadVenues();
      await Manage.done(`已${v.enabled ? "停用" : "启用"}场地「${v.name}」`);
    }));
    const change = el("button", { type: "button", className: "edit", textContent: "修改" });
    change.addEventListener("click", () => edit(v));
    const coords = v.latitude === null ? "—" : `${v.latitude}, ${v.longitude}`;
    const contact = [v.contact_name, v.contact_phone].filter(Boolean).join(" ") || "—";
    return el("tr", { "data-code": v.code, className: v.enabled ? "" : "venue-disabled" },
      el("td", {}, v.code), el("td", {}, v.name), el("td", {}, v.region_code),
      el("td", {}, v.supervising_department), el("td", {}, contact), el("td", {}, coords),
      el("td", { className: v.enabled ? "state-on" : "state-off" }, v.enabled ? "启用" : "已停用"),
      el("td", {}, change, " ", toggle));
  }

  async function submit(ev) {
    ev.preventDefault();
    const f = form().elements;
    const body = {};
    for (const name of ["name", "region_code", "supervising_department", "contact_name", "contact_phone"]) body[name] = f[name].value;
    const latitude = number(f.latitude.value), longitude = number(f.longitude.value);
    if (latitude !== undefined) body.latitude = latitude;
    if (longitude !== undefined) body.longitude = longitude;
    await attempt(async () => {
      let venue;
      if (editing) {
        venue = await api("PATCH", `/api/venues/${editing.id}`, body);
      } else {
        venue = await api("POST", "/api/venues", { code: f.code.value.trim(), ...body });
      }
      const verb = editing ? "已修改" : "已登记";
      resetForm();
      await Manage.loadVenues();
      await Manage.done(`${verb}场地「${venue.name}」`);
    });
  }

  Manage.register({
    id: "venues",
    title: "场地管理",
    visible: (me) => me.role === "system_admin",
    async show() {
      const venues = await Manage.loadVenues();
      $("#venues tbody").replaceChildren(...venues.map(row));
    },
    reset() {
      $("#venues tbody").replaceChildren();
      resetForm();
    },
  });

  window.addEventListener("DOMContentLoaded", () => {
    form().addEventListener("submit", submit);
    $("#venue-cancel").addEventListener("click", resetForm);
  });
})();
