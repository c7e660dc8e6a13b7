// The VectaDB console: sign-in, the shell (navigation, theme, health) and the hash router.
//
//   #/overview?range=24h&agent=…        pages/overview.js
//   #/traces?status=…&agent=…&q=…       pages/traces.js
//   #/trace/<trace_id>?event=<event_id> pages/trace.js
//   #/search?q=…                        pages/search.js
//   #key=<key>                          moved into sessionStorage at once (see api.js)

import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { clearKey, getKey, health, onKeyRefused, takeKeyFromFragment } from "./api.js";
import { html, currentTheme, setTheme, useTheme } from "./ui.js";
import { parseHash } from "./util.js";
import { SignIn } from "./pages/signin.js";
import { OverviewPage } from "./pages/overview.js";
import { TracesPage } from "./pages/traces.js";
import { TracePage } from "./pages/trace.js";
import { SearchPage } from "./pages/search.js";

// A stored theme choice applies before the first render.
try {
  const stored = localStorage.getItem("vectadb.theme");
  if (stored === "light" || stored === "dark") document.documentElement.dataset.theme = stored;
} catch {
  /* no storage: the system's theme */
}

takeKeyFromFragment();

const NAV = [
  { id: "overview", label: "Overview" },
  { id: "traces", label: "Traces" },
  { id: "search", label: "Search" },
];

function App() {
  const [route, setRoute] = useState(parseHash());
  const [signedIn, setSignedIn] = useState(Boolean(getKey()));
  const [notice, setNotice] = useState("");

  useEffect(() => {
    const onHash = () => {
      // A sign-in link opened in a tab that is already open.
      if (takeKeyFromFragment()) setSignedIn(true);
      setRoute(parseHash());
    };
    window.addEventListener("hashchange", onHash);
    const off = onKeyRefused((error) => {
      clearKey();
      setNotice(`The key was refused (HTTP ${error.status}: ${error.message}). Sign in again.`);
      setSignedIn(false);
    });
    return () => {
      window.removeEventListener("hashchange", onHash);
      off();
    };
  }, []);

  if (!signedIn) {
    return html`<${SignIn} notice=${notice} onSignedIn=${() => { setNotice(""); setSignedIn(true); }} />`;
  }
  const signOut = () => {
    clearKey();
    setNotice("Signed out.");
    setSignedIn(false);
  };
  return html`<${Shell} route=${route} onSignOut=${signOut} />`;
}

function Shell({ route, onSignOut }) {
  const page = route.path[0] || "overview";
  const main = useRef(null);
  const pageKey = page === "trace" ? `trace/${route.path[1]}` : page;

  // A new page: focus its heading, so that screen readers announce it and Tab starts there.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = main.current && main.current.querySelector("h1");
    if (heading) heading.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [pageKey]);

  useEffect(() => {
    const names = { overview: "Overview", traces: "Traces", trace: "Trace", search: "Search" };
    document.title = `${names[page] || "Not found"} · VectaDB`;
  }, [page]);

  let content;
  if (page === "overview") content = html`<${OverviewPage} params=${route.params} />`;
  else if (page === "traces") content = html`<${TracesPage} params=${route.params} />`;
  else if (page === "trace" && route.path[1]) content = html`<${TracePage} key=${route.path[1]} traceId=${route.path[1]} params=${route.params} />`;
  else if (page === "search") content = html`<${SearchPage} params=${route.params} />`;
  else content = html`<div class="page"><h1 tabindex="-1">Not found</h1><p>There is no page here. <a href="#/overview">Go to the overview</a>.</p></div>`;

  const current = page === "trace" ? "traces" : page;
  return html`<div class="shell">
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); main.current.focus(); }}>Skip to content</a>
    <header class="topbar">
      <a class="brand" href="#/overview" aria-label="VectaDB overview"><span class="logo" aria-hidden="true">V</span>VectaDB</a>
      <nav aria-label="Main" class="nav">
        ${NAV.map((n) => html`<a href=${`#/${n.id}`} data-testid=${`nav-${n.id}`} class=${current === n.id ? "active" : ""}
          aria-current=${current === n.id ? "page" : undefined}>${n.label}</a>`)}
      </nav>
      <div class="topbar-right">
        <${Health} />
        <${ThemeToggle} />
        <button type="button" class="btn btn-ghost" data-testid="signout" onClick=${onSignOut}>Sign out</button>
      </div>
    </header>
    <main id="main" ref=${main} tabindex="-1">${content}</main>
  </div>`;
}

function ThemeToggle() {
  const theme = useTheme();
  const next = theme === "dark" ? "light" : "dark";
  return html`<button type="button" class="btn btn-ghost btn-icon" data-testid="theme-toggle" data-theme=${theme}
    aria-label=${`Switch to the ${next} theme`} title=${`Switch to the ${next} theme`}
    onClick=${() => setTheme(currentTheme() === "dark" ? "light" : "dark")}>
    ${theme === "dark"
      ? html`<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><circle cx="12" cy="12" r="4.5" fill="currentColor"/><g stroke="currentColor" stroke-width="2" stroke-linecap="round"><path d="M12 2v2M12 20v2M2 12h2M20 12h2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4"/></g></svg>`
      : html`<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><path d="M20 14.5A8 8 0 0 1 9.5 4a8 8 0 1 0 10.5 10.5z" fill="currentColor"/></svg>`}
  </button>`;
}

/** GET /health (public): the stores' state, shown as a dot with its words. */
function Health() {
  const [state, setState] = useState(null);
  useEffect(() => {
    const check = () => health().then(setState).catch(() => setState({ status: "unavailable" }));
    check();
    const id = setInterval(check, 60_000);
    return () => clearInterval(id);
  }, []);
  if (!state) return null;
  const failing = Object.entries(state.checks || {}).filter(([, c]) => !c.ok).map(([name]) => name);
  const text = state.status === "ok" ? "API healthy" : `API ${state.status}${failing.length ? `: ${failing.join(", ")}` : ""}`;
  return html`<span class=${`health health-${state.status}`} data-testid="health" role="status"
    title=${`${text}${state.version ? ` · version ${state.version}` : ""}`}>
    <span class="dot" aria-hidden="true"></span><span class="health-text">${text}</span></span>`;
}

const root = document.getElementById("app");
root.textContent = ""; // the boot placeholder
render(html`<${App} />`, root);
