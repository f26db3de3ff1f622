// The holiday calendar's coverage warning on the admin page: /api/health lists it from 60 days
// before the last covered day (evaluation_hub.supervision.workdays.coverage_warning). Kept apart
// from admin.js so that the two change independently.
(async () => {
  const banner = document.getElementById("calendar-warning");
  if (!banner) return;
  try {
    const resp = await fetch("/api/health", { headers: { ...PAGE_HEADERS } });
    if (!resp.ok) return;
    const body = await resp.json();
    const warnings = (body.warnings || []).filter((w) => w.code === "calendar-coverage-ending");
    if (warnings.length === 0) return;
    banner.textContent = warnings.map((w) => w.detail).join("\n");
    banner.hidden = false;
  } catch (err) {
    // The page works without the banner; the same warning is in /api/health for monitoring.
  }
})();
