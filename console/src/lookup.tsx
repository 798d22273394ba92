// Lookup: find clients by any identifier (a phone typed any way, an email, ...),
// by client id, or by name. With "any field", every field of the project is
// asked, since the API normalizes per field; when none holds what was typed
// and it is no phone or e-mail, the full-text search (searchClients) looks
// for names and text like it.
// "name or text" asks the search alone.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, gql, type Session } from "./api";
import { t } from "./i18n";
import type { Client, Field } from "./types";
import { Empty, ErrorBox, Loading, Section, Time, channelName, useAction, useLoad } from "./ui";

// Hit.matchedBy holds field labels, or these two, named in the reader's language when shown.
const byId = "#id", byText = "#text";
const matchedBy = (m: string) => (m === byId ? t.foundById : m === byText ? t.foundByName : m);

type Hit = Client & { matchedBy: string[]; multiContact: { id: string; size: number } };

const clientFields = `id displayName channel { kind account } channelUserId excluded createdAt lastSeenAt
  attributes { field value source verified at } multiContact { id size }`;

/** What a lookup found: by name means the full-text search, with next the cursor of its next page. */
interface Found {
  hits: Hit[];
  byName: boolean;
  next: string | null;
}

const nameQuery = `query($p: ID!, $q: String!, $after: String) { searchClients(projectId: $p, query: $q, first: 20, after: $after) {
  nodes { ${clientFields} } pageInfo { endCursor hasNextPage } } }`;

async function searchByName(s: Session, q: string, after: string | null): Promise<Found> {
  const d = await gql<{ searchClients: { nodes: Hit[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } } }>(s, nameQuery, {
    p: s.projectId,
    q,
    after,
  });
  const page = d.searchClients;
  return { hits: page.nodes.map((c) => ({ ...c, matchedBy: [byText] })), byName: true, next: page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null };
}

async function search(s: Session, fields: Field[], q: string, field: string): Promise<Found> {
  if (field === "name") return searchByName(s, q, null);
  const hits = new Map<string, Hit>();
  let identifier = false; // a phone or e-mail field took the value: it is no name
  const add = (c: Omit<Hit, "matchedBy">, by: string) => {
    const h = hits.get(c.id) ?? { ...c, matchedBy: [] };
    h.matchedBy.push(by);
    hits.set(c.id, h);
  };
  const asks: Promise<void>[] = [];
  if (field === "" || field === "id") {
    asks.push(
      gql<{ client: Hit | null }>(s, `query($p: ID!, $id: ID!) { client(projectId: $p, id: $id) { ${clientFields} } }`, { p: s.projectId, id: q }).then(
        (d) => {
          if (d.client) add(d.client, byId);
        },
      ),
    );
  }
  for (const f of fields) {
    if (field !== "" && field !== f.key) continue;
    asks.push(
      gql<{ findClients: { nodes: Hit[] } }>(s, `query($p: ID!, $f: String!, $v: String!) { findClients(projectId: $p, field: $f, value: $v) { nodes { ${clientFields} } } }`, {
        p: s.projectId,
        f: f.key,
        v: q,
      }).then(
        (d) => {
          if (f.type === "PHONE" || f.type === "EMAIL") identifier = true;
          d.findClients.nodes.forEach((c) => add(c, f.label));
        },
        (e) => {
          // With "any field", a value that is no phone (say) is simply no match there.
          if (!(field === "" && e instanceof ApiError && e.code === "BAD_USER_INPUT")) throw e;
        },
      ),
    );
  }
  await Promise.all(asks);
  if (hits.size === 0 && field === "" && !identifier) {
    // Neither a phone nor an e-mail, and no identifier anybody holds: perhaps a name.
    try {
      return await searchByName(s, q, null);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === "BAD_USER_INPUT")) throw e;
    }
  }
  return { hits: [...hits.values()], byName: false, next: null };
}

export function Lookup({ session, q, field }: { session: Session; q: string; field: string }) {
  const [text, setText] = useState(q);
  const [by, setBy] = useState(field);
  // Follow the address (back/forward) without wiping what was typed right after the page opened.
  const shown = useRef({ q, field });
  useEffect(() => {
    if (shown.current.q !== q || shown.current.field !== field) {
      shown.current = { q, field };
      setText(q);
      setBy(field);
    }
  }, [q, field]);

  const [fields] = useLoad(
    () => gql<{ project: { fields: Field[] } | null }>(session, `query($p: ID!) { project(id: $p) { fields { key label type builtIn } } }`, { p: session.projectId }).then((d) => d.project?.fields ?? []),
    [session.key],
  );
  const [results, reload] = useLoad(
    () => (q && fields.state === "ok" ? search(session, fields.data, q, field) : Promise.resolve(null)),
    [session.key, q, field, fields.state],
  );
  // Further pages of a name search, added below the first.
  const [more, setMore] = useState<Found | null>(null);
  const [moreBusy, moreError, runMore] = useAction();
  useEffect(() => setMore(null), [results]);
  const found: Found | null = results.state === "ok" && results.data ? (more ? { ...more, hits: [...results.data.hits, ...more.hits] } : results.data) : null;
  const loadMore = () =>
    found?.next &&
    runMore(async () => {
      const page = await searchByName(session, q, found.next);
      setMore({ ...page, hits: [...(more?.hits ?? []), ...page.hits] });
    });

  const submit = (e: Event) => {
    e.preventDefault();
    const p = new URLSearchParams();
    p.set("q", text.trim());
    if (by) p.set("field", by);
    location.hash = `#/lookup?${p}`;
    if (text.trim() === q && by === field) reload();
  };

  return (
    <>
      <h1>{t.lookupTitle}</h1>
      <form class="card search" role="search" onSubmit={submit}>
        <label class="grow">
          {t.lookupLabel}
          <input name="q" type="search" required maxLength={200} placeholder={t.lookupPlaceholder} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <label>
          {t.searchIn}
          <select name="field" value={by} onChange={(e) => setBy(e.currentTarget.value)}>
            <option value="">{t.anyField}</option>
            <option value="name">{t.byName}</option>
            <option value="id">{t.clientIdOption}</option>
            {fields.state === "ok" && fields.data.map((f) => <option value={f.key}>{f.label}</option>)}
          </select>
        </label>
        <button type="submit" class="primary">
          {t.search}
        </button>
      </form>
      {fields.state === "error" ? (
        <ErrorBox error={fields.error} />
      ) : !q ? (
        <Empty>{t.lookupEmpty}</Empty>
      ) : results.state === "loading" || fields.state === "loading" ? (
        <Loading what={t.loadingResults} />
      ) : results.state === "error" ? (
        <ErrorBox error={results.error} retry={reload} />
      ) : !found?.hits.length ? (
        <Empty>{t.noHolder(q)}</Empty>
      ) : (
        <Section title={found.next ? t.clientsAndMore(found.hits.length) : t.clients(found.hits.length)} id="results">
          {found.byName && field !== "name" && <p class="muted" data-testid="by-name">{t.nameFallback(q)}</p>}
          <div class="table-wrap">
            <table class="results">
              <thead>
                <tr>
                  <th scope="col">{t.colClient}</th>
                  <th scope="col">{t.colChannel}</th>
                  <th scope="col">{t.colFoundBy}</th>
                  <th scope="col">{t.colLastSeen}</th>
                  <th scope="col">{t.colMultiContact}</th>
                </tr>
              </thead>
              <tbody>
                {found.hits.map((c) => (
                  <tr data-client={c.id}>
                    <td>
                      <strong>{c.displayName || c.id}</strong>
                      <div class="muted mono">{c.id}</div>
                      {c.excluded && <span class="badge warn">{t.excluded}</span>}
                    </td>
                    <td>
                      <span class={`chan chan-${c.channel.kind}`}>{channelName(c.channel)}</span>
                      <div class="muted mono">{c.channelUserId}</div>
                    </td>
                    <td>{c.matchedBy.map(matchedBy).join(", ")}</td>
                    <td>
                      <Time at={c.lastSeenAt} />
                    </td>
                    <td>
                      <a href={`#/mc/${encodeURIComponent(c.multiContact.id)}`} class="mono">
                        {c.multiContact.id}
                      </a>
                      <div class="muted">{t.clients(c.multiContact.size)}</div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {moreError != null && <ErrorBox error={moreError} />}
          {found.next && (
            <button type="button" disabled={moreBusy} onClick={loadMore}>
              {t.moreResults}
            </button>
          )}
        </Section>
      )}
    </>
  );
}
