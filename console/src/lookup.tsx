// Lookup: find clients by any identifier (a phone typed any way, an email, ...)
// or by client id. With "any field", every field of the project is asked,
// since the API normalizes per field.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, gql, type Session } from "./api";
import type { Client, Field } from "./types";
import { Empty, ErrorBox, Loading, Section, Time, channelName, useLoad } from "./ui";

type Hit = Client & { matchedBy: string[]; multiContact: { id: string; size: number } };

const clientFields = `id displayName channel { kind account } channelUserId excluded createdAt lastSeenAt
  attributes { field value source verified at } multiContact { id size }`;

async function search(s: Session, fields: Field[], q: string, field: string): Promise<Hit[]> {
  const hits = new Map<string, Hit>();
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
          if (d.client) add(d.client, "client id");
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
        (d) => d.findClients.nodes.forEach((c) => add(c, f.label)),
        (e) => {
          // With "any field", a value that is no phone (say) is simply no match there.
          if (!(field === "" && e instanceof ApiError && e.code === "BAD_USER_INPUT")) throw e;
        },
      ),
    );
  }
  await Promise.all(asks);
  return [...hits.values()];
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
      <h1>Lookup</h1>
      <form class="card search" role="search" onSubmit={submit}>
        <label class="grow">
          Identifier or client id
          <input name="q" type="search" required placeholder="+7 916 123-45-67, ann@example.com, tg-42…" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <label>
          Search in
          <select name="field" value={by} onChange={(e) => setBy(e.currentTarget.value)}>
            <option value="">any field</option>
            <option value="id">client id</option>
            {fields.state === "ok" && fields.data.map((f) => <option value={f.key}>{f.label}</option>)}
          </select>
        </label>
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      {fields.state === "error" ? (
        <ErrorBox error={fields.error} />
      ) : !q ? (
        <Empty>Type a phone (any spelling), an email or another identifier, or a client id.</Empty>
      ) : results.state === "loading" || fields.state === "loading" ? (
        <Loading what="results" />
      ) : results.state === "error" ? (
        <ErrorBox error={results.error} retry={reload} />
      ) : !results.data?.length ? (
        <Empty>No client holds “{q}”.</Empty>
      ) : (
        <Section title={`${results.data.length} client${results.data.length === 1 ? "" : "s"}`} id="results">
          <div class="table-wrap">
            <table class="results">
              <thead>
                <tr>
                  <th scope="col">Client</th>
                  <th scope="col">Channel</th>
                  <th scope="col">Found by</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Multi-contact</th>
                </tr>
              </thead>
              <tbody>
                {results.data.map((c) => (
                  <tr data-client={c.id}>
                    <td>
                      <strong>{c.displayName || c.id}</strong>
                      <div class="muted mono">{c.id}</div>
                      {c.excluded && <span class="badge warn">excluded</span>}
                    </td>
                    <td>
                      <span class={`chan chan-${c.channel.kind}`}>{channelName(c.channel)}</span>
                      <div class="muted mono">{c.channelUserId}</div>
                    </td>
                    <td>{c.matchedBy.join(", ")}</td>
                    <td>
                      <Time at={c.lastSeenAt} />
                    </td>
                    <td>
                      <a href={`#/mc/${encodeURIComponent(c.multiContact.id)}`} class="mono">
                        {c.multiContact.id}
                      </a>
                      <div class="muted">
                        {c.multiContact.size} client{c.multiContact.size === 1 ? "" : "s"}
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Section>
      )}
    </>
  );
}
