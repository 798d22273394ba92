// Sign-in with a project id and one of its API keys. The key is kept in
// sessionStorage only: closing the tab forgets it.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ApiError, gql, type Session } from "./api";
import { t } from "./i18n";
import { ErrorBox } from "./ui";

export function SignIn({ onSignIn, langSwitch }: { onSignIn: (s: Session) => void; langSwitch: ComponentChildren }) {
  const [projectId, setProjectId] = useState("");
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const s = { projectId: projectId.trim(), key: key.trim() };
    try {
      const d = await gql<{ project: { id: string } | null }>(s, `query($p: ID!) { project(id: $p) { id } }`, { p: s.projectId });
      if (!d.project) throw new ApiError(t.noProject(s.projectId), "NOT_FOUND");
      // Only an ADMIN key may list keys: that tells whether to offer the settings' controls.
      let admin = true;
      try {
        await gql(s, `query($p: ID!) { apiKeys(projectId: $p, first: 1) { nodes { id } } }`, { p: s.projectId });
      } catch (err) {
        if (!(err instanceof ApiError && err.code === "FORBIDDEN")) throw err;
        admin = false;
      }
      onSignIn({ ...s, admin });
    } catch (err) {
      setError(err instanceof ApiError && err.code === "FORBIDDEN" ? new ApiError(t.keyNotOfProject, "NOT_FOUND") : err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin" id="main" tabIndex={-1}>
      <form class="card" onSubmit={submit} aria-labelledby="signin-h">
        <div class="card-head">
          <h1 id="signin-h">{t.consoleTitle}</h1>
          {langSwitch}
        </div>
        <p class="muted">{t.signInIntro}</p>
        <label>
          {t.projectId}
          <input name="project" required autoComplete="off" spellcheck={false} value={projectId} onInput={(e) => setProjectId(e.currentTarget.value)} />
        </label>
        <label>
          {t.apiKey}
          <input name="key" type="password" required autoComplete="off" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        {error != null && <ErrorBox error={error} />}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t.signingIn : t.signIn}
        </button>
      </form>
    </main>
  );
}
