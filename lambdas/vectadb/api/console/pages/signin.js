// Sign-in: the API key, checked against the API, kept in sessionStorage for this tab only.

import { useEffect, useRef, useState } from "preact/hooks";
import { checkKey, setKey } from "../api.js";
import { html } from "../ui.js";

export function SignIn({ notice, onSignedIn }) {
  const [key, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(notice || "");
  const input = useRef(null);
  useEffect(() => input.current && input.current.focus(), []);

  const submit = async (e) => {
    e.preventDefault();
    const value = key.trim();
    if (!value) {
      setError("Enter an API key.");
      return;
    }
    setBusy(true);
    setError("");
    try {
      await checkKey(value);
      setKey(value);
      onSignedIn();
    } catch (exc) {
      setError(
        exc.status === 401 || exc.status === 403
          ? `The key was refused (HTTP ${exc.status}: ${exc.message}). Check it and try again.`
          : `Could not check the key: ${exc.message}`,
      );
    } finally {
      setBusy(false);
    }
  };

  return html`<main class="signin" id="main">
    <form class="signin-card card" data-testid="signin-form" onSubmit=${submit} aria-describedby="signin-help">
      <div class="brand brand-large"><span class="logo" aria-hidden="true">V</span>VectaDB</div>
      <h1>Sign in</h1>
      <p id="signin-help" class="muted">Enter an API key for this VectaDB API. It stays in this browser tab only
        (sessionStorage) and is sent as <code>Authorization: Bearer</code>.</p>
      <label class="field" for="signin-key"><span>API key</span></label>
      <input id="signin-key" ref=${input} type="password" autocomplete="current-password" spellcheck="false"
        data-testid="signin-input" value=${key} onInput=${(e) => setValue(e.currentTarget.value)}
        aria-invalid=${error ? "true" : "false"} aria-describedby=${error ? "signin-error" : undefined} />
      <div aria-live="assertive">
        ${error && html`<p class="note note-error" id="signin-error" role="alert" data-testid="signin-error">${error}</p>`}
      </div>
      <button type="submit" class="btn btn-primary btn-block" data-testid="signin-submit" disabled=${busy}>
        ${busy ? "Checking…" : "Sign in"}</button>
      <p class="muted small">Running locally? <code>make dev</code> prints a sign-in link.</p>
    </form>
  </main>`;
}
