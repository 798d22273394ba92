// The console's shell: sign-in, the header with navigation, and a hash
// router (#/lookup, #/settings, #/mc/<id>) so the server needs no fallback route.
import { render } from "preact";
import { useEffect, useLayoutEffect, useState } from "preact/hooks";
import { closeSubscriptions, type Session } from "./api";
import { SignIn } from "./signin";
import { Lookup } from "./lookup";
import { Settings } from "./settings";
import { MultiContactView } from "./multicontact";
import { lang, langs, ready, setLang, t, type Lang } from "./i18n";
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

/** LangSwitch chooses the console's language; its name is in both languages, for whoever reads neither page text. */
function LangSwitch({ onChange }: { onChange: () => void }) {
  return (
    <label class="lang">
      <span class="sr">Language · Язык</span>
      <select
        name="lang"
        value={lang}
        onChange={(e) => void setLang(e.currentTarget.value as Lang).then(onChange, onChange)}
      >
        {langs.map((l) => (
          <option value={l.code} lang={l.code}>
            {l.name}
          </option>
        ))}
      </select>
    </label>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [, setShownLang] = useState(lang);
  const langSwitch = <LangSwitch onChange={() => setShownLang(lang)} />;
  document.title = t.consoleTitle;
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
        langSwitch={langSwitch}
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
        {t.skip}
      </a>
      <header class="top">
        <span class="brand">Multicontact</span>
        <nav aria-label={t.mainNav}>
          {nav("lookup", t.navLookup)}
          {nav("settings", t.navSettings)}
        </nav>
        <span class="who">
          <span class="muted">{t.project}</span> <strong>{session.projectId}</strong>
          {!session.admin && <span class="badge">{t.operator}</span>}
          {langSwitch}
          <button type="button" class="link" onClick={signOut}>
            {t.signOut}
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {view}
      </main>
    </>
  );
}

await ready; // the texts of the console's language
const root = document.getElementById("app")!;
root.textContent = ""; // the "Loading" placeholder of index.html
render(<App />, root);
