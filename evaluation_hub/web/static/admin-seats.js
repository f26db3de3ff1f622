// 工位管理: a venue's seats, published and changed by its admin (or the system administrator).
"use strict";

(() => {
  function venueId() { return Number($("#seat-venue").value); }

  function capabilityBoxes(chosen, cls) {
    return Object.entries(CAPABILITY_NAMES).map(([value, name]) => {
      const box = el("input", { type: "checkbox", value, checked: chosen.includes(value), className: cls });
      return el("label", { className: "cap" }, box, name);
    });
  }

  function statusSelect(value) {
    const select = el("select", { className: "status" });
    for (const [v, name] of Object.entries(STATUS_NAMES)) select.append(el("option", { value: v, textContent: name }));
    select.value = value;
    return select;
  }

  function row(seat) {
    const label = el("input", { className: "label narrow", value: seat.label });
    const room = el("input", { className: "room", value: seat.room });
    const shared = el("input", { type: "checkbox", className: "shared", checked: seat.shared });
    const status = statusSelect(seat.status);
    const caps = capabilityBoxes(seat.capabilities, "capability");
    const save = el("button", { type: "button", className: "save", textContent: "保存" });
    const tr = el("tr", { "data-seat": String(seat.id), "data-label": seat.label },
      el("td", {}, label), el("td", {}, room), el("td", {}, ...caps), el("td", {}, status),
      el("td", {}, shared), el("td", {}, save));
    save.addEventListener("click", () => attempt(async () => {
      const capabilities = [...tr.querySelectorAll("input.capability:checked")].map((b) => b.value);
      const changed = await api("PATCH", `/api/seats/${seat.id}`, {
        label: label.value, room: room.value, capabilities, status: status.value, shared: shared.checked,
      });
      await Manage.done(`已保存工位 ${changed.label}`);
    }));
    return tr;
  }

  async function load() {
    const id = venueId();
    if (!id) return;
    const seats = await api("GET", `/api/seats?venue_id=${id}&include_unshared=true`);
    $("#seats tbody").replaceChildren(...seats.map(row));
  }

  async function submit(ev) {
    ev.preventDefault();
    const f = ev.target.elements;
    const capabilities = [...ev.target.querySelectorAll("fieldset.capabilities input:checked")].map((b) => b.value);
    await attempt(async () => {
      const seat = await api("POST", `/api/venues/${venueId()}/seats`, {
        label: f.label.value, room: f.room.value, capabilities, status: f.status.value, shared: f.shared.checked,
      });
      ev.target.reset();
      await Manage.done(`已新增工位 ${seat.label}`);
    });
  }

  Manage.register({
    id: "seats",
    title: "工位管理",
    visible: (me) => me.role === "system_admin" || me.role === "venue_admin",
    async show() {
      Manage.fillVenueSelect($("#seat-venue"));
      await load();
    },
    reset() {
      $("#seats tbody").replaceChildren();
      $("#seat-venue").replaceChildren();
    },
  });

  window.addEventListener("DOMContentLoaded", () => {
    $("#seat-form fieldset.capabilities").append(...capabilityBoxes([], "new-capability"));
    const status = $("#seat-form select[name=status]");
    for (const [v, name] of Object.entries(STATUS_NAMES)) status.append(el("option", { value: v, textContent: name }));
    $("#seat-form").addEventListener("submit", submit);
    $("#seat-venue").addEventListener("change", () => attempt(load));
  });
})();
