// The console's shell: sign-in, the header with navigation, and a hash
// router (#/lookup, #/settings, #/mc/<id>) so the server needs no fallback route.
import { render } from "preact";
import { useEffect, useLayoutEffect, useState } from "preact/hooks";
import { closeSubscriptions, type Session } from "./api";
import { SignIn } from "./signin";
import { Lookup } from "./lookup";
import { Settings } from "./settings";
import { MultiContactView } from "./multicontact";
import "./style.css";

const storageKey = "multicontact.session";

function loadSession(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(storageKey) ?? "null");
    return s && typeof s.projectId === "string" && typeof s.key === "string" ? s : null;
  } catch {
    return null;
  }
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

/** route splits "#/mc/abc?x=1" into ["mc", "abc"] and its query. */
function route(hash: string): { parts: string[]; query: URLSearchParams } {
  const [path, q] = hash.replace(/^#\/?/, "").split("?", 2);
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q ?? "") };
}

function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const hash = useHash();
  const { parts, query } = route(hash);

  // A new page moves focus to its content at once (a layout effect: before
  // the page shows, so it never pulls focus out of a field being typed in).
  useLayoutEffect(() => {
    document.getElementById("main")?.focus({ preventScroll: true });
  }, [parts[0], parts[1]]);

  if (!session) {
    return (
      <SignIn
        onSignIn={(s) => {
          sessionStorage.setItem(storageKey, JSON.stringify(s));
          setSession(s);
          if (!location.hash) location.hash = "#/lookup";
        }}
      />
    );
  }
  const signOut = () => {
    sessionStorage.removeItem(storageKey);
    closeSubscriptions();
    setSession(null);
    location.hash = "";
  };
  const page = parts[0] ?? "lookup";
  let view;
  if (page === "settings") view = <Settings session={session} />;
  else if (page === "mc" && parts[1]) view = <MultiContactView key={parts[1]} session={session} id={parts[1]} />;
  else view = <Lookup session={session} q={query.get("q") ?? ""} field={query.get("field") ?? ""} />;

  const nav = (name: string, label: string) => (
    <a href={`#/${name}`} class={page === name ? "active" : undefined} aria-current={page === name ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Multicontact</span>
        <nav aria-label="Main">
          {nav("lookup", "Lookup")}
          {nav("settings", "Settings")}
        </nav>
        <span class="who">
          <span class="muted">Project</span> <strong>{session.projectId}</strong>
          {!session.admin && <span class="badge">operator</span>}
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {view}
      </main>
    </>
  );
}

const root = document.getElementById("app")!;
root.textContent = ""; // the "Loading" placeholder of index.html
render(<App />, root);
