// Sign-in with a project id and one of its API keys. The key is kept in
// sessionStorage only: closing the tab forgets it.
import { useState } from "preact/hooks";
import { ApiError, gql, type Session } from "./api";
import { ErrorBox } from "./ui";

export function SignIn({ onSignIn }: { onSignIn: (s: Session) => void }) {
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
      if (!d.project) throw new ApiError(`There is no project "${s.projectId}".`, "NOT_FOUND");
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
      setError(err instanceof ApiError && err.code === "FORBIDDEN" ? new ApiError("This key does not belong to that project.", "NOT_FOUND") : err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin" id="main" tabIndex={-1}>
      <form class="card" onSubmit={submit} aria-labelledby="signin-h">
        <h1 id="signin-h">Multicontact console</h1>
        <p class="muted">Sign in with one of the project's API keys. The key stays in this tab only and is forgotten when it closes.</p>
        <label>
          Project id
          <input name="project" required autoComplete="off" spellcheck={false} value={projectId} onInput={(e) => setProjectId(e.currentTarget.value)} />
        </label>
        <label>
          API key
          <input name="key" type="password" required autoComplete="off" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        {error != null && <ErrorBox error={error} />}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
