// Small shared pieces: the loading, empty and error states every view uses,
// and a hook that runs a query and keeps its state.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { describe } from "./api";
import { lang, t } from "./i18n";

/** Loading says what is being loaded, in a whole sentence ("Loading the history…"). */
export function Loading({ what }: { what: string }) {
  return (
    <p class="state loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {what}
    </p>
  );
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div class="state error" role="alert">
      <p>{describe(error)}</p>
      {retry && (
        <button type="button" onClick={retry}>
          {t.tryAgain}
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

/** Time shows an RFC 3339 time in the reader's locale, with the exact value on hover. */
export function Time({ at }: { at: string | null | undefined }) {
  if (!at) return <span class="muted">—</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={at}>
      {d.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" })}
    </time>
  );
}

export type Load<T> = { state: "loading" } | { state: "error"; error: unknown } | { state: "ok"; data: T };

/** useLoad runs load when deps change; reload runs it again (keeping the old data shown meanwhile). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [Load<T>, () => void] {
  const [s, set] = useState<Load<T>>({ state: "loading" });
  const seq = useRef(0);
  const run = useCallback((quiet: boolean) => {
    const n = ++seq.current;
    if (!quiet) set({ state: "loading" });
    load().then(
      (data) => n === seq.current && set({ state: "ok", data }),
      (error) => n === seq.current && set({ state: "error", error }),
    );
  }, deps);
  useEffect(() => run(false), [run]);
  return [s, useCallback(() => run(true), [run])];
}

/** useAction runs one mutation at a time and keeps its error for the page. */
export function useAction(): [busy: boolean, error: unknown, run: (f: () => Promise<unknown>) => Promise<boolean>, clear: () => void] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return [busy, error, run, () => setError(null)];
}

export function Section({ title, id, children, actions }: { title: string; id?: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card" aria-labelledby={id ? `${id}-h` : undefined} id={id}>
      <div class="card-head">
        <h2 id={id ? `${id}-h` : undefined}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export const channelName = (c: { kind: string; account: string }) => `${c.kind} · ${c.account}`;
