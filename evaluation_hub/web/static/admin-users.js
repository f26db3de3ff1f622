// 用户管理: accounts — the system administrator's every one, a venue admin's their own venue's.
// A password typed here goes only to the API (never into the page's messages).
"use strict";

(() => {
  function row(u) {
    const toggle = el("button", { type: "button", className: "toggle", textContent: u.active ? "停用" : "启用" });
    toggle.addEventListener("click", () => attempt(async () => {
      await api("PATCH", `/api/users/${u.id}`, { active: !u.active });
      await Manage.done(`已${u.active ? "停用" : "启用"}用户 ${u.username}`);
    }));
    const password = el("input", { type: "password", className: "new-password narrow", placeholder: "新密码", autocomplete: "new-password" });
    const reset = el("button", { type: "button", className: "reset", textContent: "重置密码" });
    reset.addEventListener("click", () => attempt(async () => {
      await api("POST", `/api/users/${u.id}/password`, { password: password.value });
      password.value = "";
      await Manage.done(`已重置用户 ${u.username} 的密码`);
    }));
    return el("tr", { "data-user": u.username, className: u.active ? "" : "user-disabled" },
      el("td", {}, u.username), el("td", {}, u.display_name), el("td", {}, u.role_name),
      el("td", {}, u.venue_code ? `${u.venue_code} ${u.venue_name}` : "—"),
      el("td", { className: u.active ? "state-on" : "state-off" }, u.active ? "启用" : "已停用"),
      el("td", {}, toggle, " ", password, " ", reset));
  }

  function fillForm() {
    const role = $("#user-form select[name=role]");
    const before = role.value;
    role.replaceChildren();
    for (const [value, name] of Object.entries(ROLE_NAMES)) {
      if (value === "system_admin" && !Manage.isSystemAdmin()) continue;
      role.append(el("option", { value, textContent: name }));
    }
    if ([...role.options].some((o) => o.value === before)) role.value = before;
    Manage.fillVenueSelect($("#user-form select[name=venue_id]"));
    syncVenue();
  }

  // A system administrator belongs to no venue.
  function syncVenue() {
    $("#user-form select[name=venue_id]").disabled = $("#user-form select[name=role]").value === "system_admin";
  }

  async function load() {
    const venue = $("#user-venue").value;
    const users = await api("GET", venue ? `/api/users?venue_id=${venue}` : "/api/users");
    $("#users tbody").replaceChildren(...users.map(row));
  }

  async function submit(ev) {
    ev.preventDefault();
    const f = ev.target.elements;
    const body = { username: f.username.value.trim(), display_name: f.display_name.value, role: f.role.value, password: f.password.value };
    if (f.role.value !== "system_admin") body.venue_id = Number(f.venue_id.value);
    await attempt(async () => {
      const user = await api("POST", "/api/users", body);
      ev.target.reset();
      fillForm();
      await Manage.done(`已新增用户 ${user.username}（${user.role_name}）`);
    });
  }

  Manage.register({
    id: "users",
    title: "用户管理",
    visible: (me) => me.role === "system_admin" || me.role === "venue_admin",
    async show() {
      Manage.fillVenueSelect($("#user-venue"), { all: "全部用户" });
      fillForm();
      await load();
    },
    reset() {
      $("#users tbody").replaceChildren();
      $("#user-venue").replaceChildren();
      $("#user-form").reset();
    },
  });

  window.addEventListener("DOMContentLoaded", () => {
    $("#user-form").addEventListener("submit", submit);
    $("#user-form select[name=role]").addEventListener("change", syncVenue);
    $("#user-venue").addEventListener("change", () => attempt(load));
  });
})();
