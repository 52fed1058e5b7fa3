// The cohort report's refresh (hub_config/live_report.py): every few seconds, ask the service's
// JSON endpoint whether the data changed; if it did, fetch the page again and swap in its tables.
// Served by the service itself (its Content-Security-Policy allows no inline or outside script).
"use strict";

(function () {
  const body = document.body;
  const status = document.getElementById("live-status");
  const interval = Math.max(2, Number(body.dataset.interval) || 5) * 1000;
  // Cookie-authenticated fetches carry the hub's XSRF token, as JupyterHub requires.
  const headers = { "X-XSRFToken": body.dataset.xsrf || "" };
  let version = body.dataset.version;

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  async function get(url, accept) {
    const response = await fetch(url, {
      headers: { ...headers, Accept: accept },
      cache: "no-cache",
      credentials: "same-origin",
      redirect: "error",
    });
    if (response.status === 403) {
      throw new Error("signed-out");
    }
    if (!response.ok) {
      throw new Error("status " + response.status);
    }
    return response;
  }

  async function check() {
    try {
      const data = await (await get(body.dataset.dataUrl, "application/json")).json();
      if (data.version !== version) {
        const text = await (await get(body.dataset.pageUrl, "text/html")).text();
        // A parsed document runs nothing; only its <main> (escaped by the service) is taken.
        const fresh = new DOMParser().parseFromString(text, "text/html");
        const main = fresh.getElementById("report");
        const current = document.getElementById("report");
        if (main && current) {
          current.replaceWith(document.adoptNode(main));
          version = fresh.body.dataset.version || data.version;
        }
      }
      say("Live: last checked " + new Date().toLocaleTimeString() + ".");
    } catch (error) {
      if (error.message === "signed-out") {
        say("Your session has ended: reload the page to sign in again.");
        return; // stop polling
      }
      say("Cannot reach the report service; trying again.");
    }
    window.setTimeout(check, interval);
  }

  window.setTimeout(check, interval);
})();
