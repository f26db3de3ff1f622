// The administration page (系统管理): one tab per section. Each section lives in its own script
// and registers itself with Manage.register({ id, title, visible(me), show(me), reset() }):
// `visible` says whether the signed-in user gets the tab (the API still decides every request),
// `show` (re)loads the section when its tab opens, `reset` clears it when the user signs out.
// A new section (the expert pool, say) is a new script and a <section id="tab-ID" class="tab">.
"use strict";

const ROLE_NAMES = { venue_admin: "场地管理员", host_operator: "主场业务人员", supervisor: "监督人员", system_admin: "系统管理员" };
const CAPABILITY_NAMES = { camera: "摄像头", microphone: "麦克风", dual_screen: "双屏", speaker: "扬声器", id_reader: "身份证读卡器" };
const STATUS_NAMES = { available: "可用", maintenance: "维护中", retired: "已停用" };

const Manage = {
  sections: [],
  me: null,
  venues: [],
  current: null,

  register(section) { this.sections.push(section); },

  isSystemAdmin() { return this.me && this.me.role === "system_admin"; },

  async loadVenues() {
    this.venues = await api("GET", "/api/venues");
    return this.venues;
  },

  // The venues a select offers: every venue to the system administrator (after an optional
  // "all" choice), the venue admin's own venue to them. Keeps the choice made if still offered.
  fillVenueSelect(select, { all = "" } = {}) {
    const before = select.value;
    select.replaceChildren();
    if (this.isSystemAdmin() && all) select.append(el("option", { value: "", textContent: all }));
    const offered = this.isSystemAdmin() ? this.venues : this.venues.filter((v) => v.id === this.me.venue_id);
    for (const v of offered) select.append(el("option", { value: String(v.id), textContent: `${v.code} ${v.name}` }));
    if ([...select.options].some((o) => o.value === before)) select.value = before;
  },

  venueName(id) {
    const v = this.venues.find((x) => x.id === id);
    return v ? `${v.code} ${v.name}` : "—";
  },

  async open(id) {
    const section = this.sections.find((s) => s.id === id);
    if (!section) return;
    this.current = id;
    for (const s of this.sections) {
      $(`#tab-${s.id}`).hidden = s.id !== id;
      const tab = $(`#tabs button[data-tab="${s.id}"]`);
      if (tab) tab.setAttribute("aria-selected", String(s.id === id));
    }
    try {
      await section.show(this.me);
      $(`#tab-${id}`).dataset.loaded = "yes";
    } catch (err) { showMessage(err.message); }
  },

  // After a change: reload the open section, then say what was done (so whoever reads the
  // message sees the section as it now is).
  async done(text) {
    await this.open(this.current);
    showMessage(text, true);
  },
};

// Runs an action from a button or form; its refusal (problem+json) is shown as the API words it.
async function attempt(action) {
  try {
    await action();
  } catch (err) {
    showMessage(err.message);
  }
}

async function manageSignedIn(me) {
  Manage.me = me;
  await Manage.loadVenues();
  const tabs = $("#tabs");
  tabs.replaceChildren();
  const visible = Manage.sections.filter((s) => s.visible(me));
  for (const s of visible) {
    const button = el("button", { type: "button", textContent: s.title, "data-tab": s.id });
    button.setAttribute("role", "tab");
    button.addEventListener("click", () => Manage.open(s.id));
    tabs.append(button);
  }
  $("#no-tabs").hidden = visible.length > 0;
  if (visible.length) await Manage.open(visible[0].id);
}

function manageSignedOut() {
  Manage.me = null;
  Manage.venues = [];
  Manage.current = null;
  $("#tabs").replaceChildren();
  for (const s of Manage.sections) {
    s.reset();
    const tab = $(`#tab-${s.id}`);
    tab.hidden = true;
    delete tab.dataset.loaded;
  }
}

window.addEventListener("DOMContentLoaded", () => setupSignIn("#manage-panel", manageSignedIn, manageSignedOut));
