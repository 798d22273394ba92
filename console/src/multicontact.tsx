// The multi-contact view: members with channels and identifiers, where to
// answer, conversations, a live drawing of what links the members, and the
// operator's actions (explain, link, unlink, block a value, exclude a client).
import { useEffect, useRef, useState } from "preact/hooks";
import { gql, subscribe, type Session } from "./api";
import type { ChangeEvent, Client, LinkStep, MultiContact, MultiContactPage } from "./types";
import type { Drawing } from "./graph";
import { Empty, ErrorBox, Loading, Section, Time, channelName, useAction, useLoad } from "./ui";

const mcQuery = `query($p: ID!, $id: ID!) { multiContact(projectId: $p, id: $id) {
  id size createdAt aliases
  clients(first: 500) { nodes { id displayName channel { kind account } channelUserId excluded createdAt lastSeenAt
    attributes { field value source verified at } } }
  channels { channel { kind account } channelUserId client { id displayName } lastActivityAt }
  conversations(first: 200) { nodes { id clientId startedAt lastMessageAt summary } }
  links { from to rule ruleName values { field value } manual }
} }`;

const changed = `subscription($p: ID!, $mc: ID) { multiContactChanged(projectId: $p, multiContactId: $mc) {
  type multiContactId previousIds newIds clientIds at cause { kind action field value rule }
} }`;

export function MultiContactView({ session, id }: { session: Session; id: string }) {
  const [mc, reload] = useLoad(
    // Members and conversations come as pages; the view shows the first page of each (500 members, 200 conversations).
    () =>
      gql<{ multiContact: MultiContactPage | null }>(session, mcQuery, { p: session.projectId, id }).then((d) =>
        d.multiContact ? { ...d.multiContact, clients: d.multiContact.clients.nodes, conversations: d.multiContact.conversations.nodes } : null,
      ),
    [session.key, id],
  );
  const [events, setEvents] = useState<ChangeEvent[]>([]);
  const [live, setLive] = useState(false);
  const [gone, setGone] = useState(false);
  const [picked, setPicked] = useState<string[]>([]);

  const current = mc.state === "ok" ? mc.data?.id : undefined;
  useEffect(() => {
    // An absorbed id answers with the multi-contact that absorbed it: show its own address.
    if (current && current !== id) location.replace(`#/mc/${encodeURIComponent(current)}`);
  }, [current, id]);

  useEffect(() => {
    if (!current || current !== id) return;
    return subscribe<{ multiContactChanged: ChangeEvent }>(session, changed, { p: session.projectId, mc: current }, {
      next: ({ multiContactChanged: e }) => {
        setEvents((es) => [e, ...es].slice(0, 20));
        if ((e.type === "DELETED" || e.type === "FORGOTTEN") && e.multiContactId === current) setGone(true);
        else if (e.multiContactId !== current && e.previousIds.includes(current)) location.hash = `#/mc/${encodeURIComponent(e.multiContactId)}`;
        else reload();
      },
      status: setLive,
    });
  }, [current, id, session.key]);

  if (mc.state === "loading") return <><h1>Multi-contact</h1><Loading what="the multi-contact" /></>;
  if (mc.state === "error") return <><h1>Multi-contact</h1><ErrorBox error={mc.error} retry={reload} /></>;
  const m = mc.data;
  if (!m) return <><h1>Multi-contact</h1><Empty>There is no multi-contact “{id}” in this project. <a href="#/lookup">Look a client up</a> instead.</Empty></>;

  const pick = (clientId: string) => setPicked((p) => (p.includes(clientId) ? p.filter((x) => x !== clientId) : [...p.slice(-1), clientId]));
  const name = (clientId: string) => {
    const c = m.clients.find((x) => x.id === clientId);
    return c?.displayName || clientId;
  };

  return (
    <>
      <div class="page-head">
        <h1>
          Multi-contact <span class="mono">{m.id}</span>
        </h1>
        <span class={`live ${live ? "on" : ""}`} role="status" title="Changes arrive through the multiContactChanged subscription">
          {live ? "● live" : "○ connecting"}
        </span>
      </div>
      <p class="muted" data-testid="summary">
        {m.size} client{m.size === 1 ? "" : "s"} · since <Time at={m.createdAt} />
        {m.aliases.length > 0 && <> · also known as {m.aliases.join(", ")}</>}
      </p>
      {gone && <p class="note" role="alert">This multi-contact was deleted; what you see is its last state.</p>}
      <div class="mc-grid">
        <div class="col">
          <AnswerHere mc={m} />
          <Members session={session} mc={m} onChanged={reload} />
          <Conversations mc={m} name={name} />
        </div>
        <div class="col">
          <Section title="Graph" id="graph">
            <GraphView mc={m} picked={picked} onPick={pick} />
            <p class="legend muted">
              <span class="dot client" /> client <span class="dot channel" /> channel <span class="dot key" /> value that links (edge: rule){" "}
              <span class="dash" /> manual link. Click two clients to explain their link.
            </p>
          </Section>
          <Explain session={session} mc={m} picked={picked} setPicked={setPicked} />
          <Links session={session} mc={m} name={name} onChanged={reload} />
          <LiveLog events={events} />
        </div>
      </div>
    </>
  );
}

function AnswerHere({ mc }: { mc: MultiContact }) {
  return (
    <Section title="Answer here" id="answer">
      {mc.channels.length === 0 ? (
        <Empty>No channel has activity yet.</Empty>
      ) : (
        <ol class="channels">
          {mc.channels.map((c, i) => (
            <li class={i === 0 ? "first" : ""}>
              <span class={`chan chan-${c.channel.kind}`}>{channelName(c.channel)}</span> <span class="mono">{c.channelUserId}</span>{" "}
              <span class="muted">
                {c.client.displayName || c.client.id} · <Time at={c.lastActivityAt} />
              </span>
              {i === 0 && <span class="badge ok">answer here</span>}
            </li>
          ))}
        </ol>
      )}
    </Section>
  );
}

function Members({ session, mc, onChanged }: { session: Session; mc: MultiContact; onChanged: () => void }) {
  const [busy, error, run] = useAction();
  const act = async (query: string, vars: Record<string, unknown>) => (await run(() => gql(session, query, { p: session.projectId, ...vars }))) && onChanged();
  return (
    <Section title={`Members (${mc.clients.length})`} id="members">
      {error != null && <ErrorBox error={error} />}
      <ul class="members">
        {mc.clients.map((c: Client) => (
          <li data-client={c.id}>
            <div class="member-head">
              <div>
                <strong>{c.displayName || c.id}</strong> <span class="muted mono">{c.id}</span>
                {c.excluded && <span class="badge warn">excluded</span>}
                <div>
                  <span class={`chan chan-${c.channel.kind}`}>{channelName(c.channel)}</span> <span class="muted mono">{c.channelUserId}</span>
                </div>
                <div class="muted">
                  last activity <Time at={c.lastSeenAt} />
                </div>
              </div>
              <button
                type="button"
                class="small"
                disabled={busy}
                onClick={() =>
                  c.excluded
                    ? act(`mutation($p: ID!, $c: ID!) { includeClient(projectId: $p, clientId: $c) { id } }`, { c: c.id })
                    : act(`mutation($p: ID!, $c: ID!) { excludeClient(projectId: $p, clientId: $c) { id } }`, { c: c.id })
                }
              >
                {c.excluded ? "Include" : "Exclude"}
                <span class="sr"> {c.displayName || c.id}</span>
              </button>
            </div>
            {c.attributes.length === 0 ? (
              <p class="muted">No identifiers.</p>
            ) : (
              <table class="attrs">
                <caption class="sr">Identifiers of {c.displayName || c.id}</caption>
                <thead>
                  <tr>
                    <th scope="col">Field</th>
                    <th scope="col">Value</th>
                    <th scope="col">Source</th>
                    <th scope="col"><span class="sr">Actions</span></th>
                  </tr>
                </thead>
                <tbody>
                  {c.attributes.map((a) => (
                    <tr>
                      <td>{a.field}</td>
                      <td class="mono">
                        {a.value} {a.verified && <span class="badge ok" title="signed by the business's server">verified</span>}
                      </td>
                      <td class="muted">{a.source.toLowerCase()}</td>
                      <td>
                        <button
                          type="button"
                          class="small"
                          disabled={busy}
                          onClick={() => act(`mutation($p: ID!, $f: String!, $v: String!) { blockValue(projectId: $p, field: $f, value: $v) }`, { f: a.field, v: a.value })}
                        >
                          Block<span class="sr"> {a.field} {a.value}</span>
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </li>
        ))}
      </ul>
    </Section>
  );
}

function Conversations({ mc, name }: { mc: MultiContact; name: (id: string) => string }) {
  return (
    <Section title="Conversations" id="conversations">
      {mc.conversations.length === 0 ? (
        <Empty>No conversations recorded for these clients.</Empty>
      ) : (
        <ul class="plain convs">
          {mc.conversations.map((c) => (
            <li>
              <div>
                <strong>{name(c.clientId)}</strong> <span class="muted">· <Time at={c.lastMessageAt} /></span>
              </div>
              <div>{c.summary || <span class="muted">(no summary)</span>}</div>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

function GraphView({ mc, picked, onPick }: { mc: MultiContact; picked: string[]; onPick: (id: string) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const drawing = useRef<Drawing | null>(null);
  const [error, setError] = useState<unknown>(null);
  const pickRef = useRef(onPick);
  pickRef.current = onPick;
  const latest = useRef({ mc, picked });
  latest.current = { mc, picked };

  useEffect(() => {
    let dead = false;
    import("./graph").then(
      ({ draw }) => {
        if (dead || !box.current) return;
        drawing.current = draw(box.current, (id) => pickRef.current(id));
        drawing.current.update(latest.current.mc, latest.current.picked);
      },
      (e) => setError(e),
    );
    return () => {
      dead = true;
      drawing.current?.destroy();
      drawing.current = null;
    };
  }, []);
  useEffect(() => drawing.current?.update(mc, picked), [mc, picked]);

  if (error) return <ErrorBox error={error} />;
  return <div class="graph" ref={box} role="img" aria-label={`Graph of ${mc.clients.length} clients and what links them; the lists beside it say the same in text.`} data-nodes={mc.clients.map((c) => c.id).join(" ")} />;
}

function stepText(s: LinkStep, name: (id: string) => string) {
  const how = s.manual ? "linked by hand" : `${s.ruleName ?? s.rule}: ${s.values.map((v) => `${v.field} ${v.value}`).join(" + ")}`;
  return `${name(s.from)} → ${name(s.to)} (${how})`;
}

function Explain({ session, mc, picked, setPicked }: { session: Session; mc: MultiContact; picked: string[]; setPicked: (p: string[]) => void }) {
  const [a, b] = [picked[0] ?? "", picked[1] ?? ""];
  const [steps, setSteps] = useState<LinkStep[] | null>(null);
  const [busy, error, run] = useAction();
  const name = (id: string) => mc.clients.find((c) => c.id === id)?.displayName || id;
  useEffect(() => setSteps(null), [a, b]);
  useEffect(() => {
    if (a && b && a !== b) void run(async () => setSteps((await gql<{ explainLink: LinkStep[] | null }>(session, `query($p: ID!, $a: ID!, $b: ID!) { explainLink(projectId: $p, a: $a, b: $b) { from to rule ruleName values { field value } manual } }`, { p: session.projectId, a, b })).explainLink ?? []));
  }, [a, b, mc]);
  const select = (label: string, value: string, set: (v: string) => void) => (
    <label>
      {label}
      <select value={value} onChange={(e) => set(e.currentTarget.value)}>
        <option value="">choose a client</option>
        {mc.clients.map((c) => <option value={c.id}>{c.displayName ? `${c.displayName} (${c.id})` : c.id}</option>)}
      </select>
    </label>
  );
  return (
    <Section title="Why are they linked?" id="explain">
      <div class="inline">
        {select("Client A", a, (v) => setPicked([v, b].filter(Boolean)))}
        {select("Client B", b, (v) => setPicked([a, v].filter(Boolean)))}
      </div>
      <div aria-live="polite">
        {!a || !b ? (
          <p class="muted">Pick two clients here or click them in the graph.</p>
        ) : a === b ? (
          <p class="muted">Pick two different clients.</p>
        ) : busy ? (
          <Loading what="the explanation" />
        ) : error != null ? (
          <ErrorBox error={error} />
        ) : steps && steps.length === 0 ? (
          <Empty>These two clients are not linked.</Empty>
        ) : steps ? (
          <ol class="steps" data-testid="explain">
            {steps.map((s) => <li>{stepText(s, name)}</li>)}
          </ol>
        ) : null}
      </div>
    </Section>
  );
}

function Links({ session, mc, name, onChanged }: { session: Session; mc: MultiContact; name: (id: string) => string; onChanged: () => void }) {
  const [from, setFrom] = useState(mc.clients[0]?.id ?? "");
  const [other, setOther] = useState("");
  const [busy, error, run] = useAction();
  const manual = mc.links.filter((l) => l.manual);
  useEffect(() => {
    if (!mc.clients.some((c) => c.id === from)) setFrom(mc.clients[0]?.id ?? "");
  }, [mc]);
  const link = async (e: Event) => {
    e.preventDefault();
    if (await run(() => gql(session, `mutation($p: ID!, $a: ID!, $b: ID!) { linkClients(projectId: $p, a: $a, b: $b) { id } }`, { p: session.projectId, a: from, b: other.trim() }))) {
      setOther("");
      onChanged();
    }
  };
  const unlink = async (l: LinkStep) =>
    (await run(() => gql(session, `mutation($p: ID!, $a: ID!, $b: ID!) { unlinkClients(projectId: $p, a: $a, b: $b) }`, { p: session.projectId, a: l.from, b: l.to }))) && onChanged();
  return (
    <Section title="Manual links" id="links">
      {manual.length === 0 ? (
        <Empty>No manual links.</Empty>
      ) : (
        <ul class="plain">
          {manual.map((l) => (
            <li data-link={`${l.from}|${l.to}`}>
              {name(l.from)} ↔ {name(l.to)}{" "}
              <button type="button" class="small danger" disabled={busy} onClick={() => unlink(l)}>
                Unlink<span class="sr"> {name(l.from)} and {name(l.to)}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="inline" onSubmit={link}>
        <label>
          Member
          <select value={from} onChange={(e) => setFrom(e.currentTarget.value)}>
            {mc.clients.map((c) => <option value={c.id}>{c.displayName || c.id}</option>)}
          </select>
        </label>
        <label class="grow">
          Link to client id
          <input name="link-to" required value={other} onInput={(e) => setOther(e.currentTarget.value)} placeholder="another client's id" />
        </label>
        <button type="submit" disabled={busy || !other.trim()}>
          Link
        </button>
      </form>
      {error != null && <ErrorBox error={error} />}
    </Section>
  );
}

function LiveLog({ events }: { events: ChangeEvent[] }) {
  return (
    <Section title="Live changes" id="live">
      {events.length === 0 ? (
        <Empty>No changes since you opened this view; merges and splits appear here as they happen.</Empty>
      ) : (
        <ul class="plain events" aria-live="polite">
          {events.map((e) => (
            <li data-type={e.type}>
              <span class={`badge ev-${e.type.toLowerCase()}`}>{e.type}</span> <Time at={e.at} />{" "}
              <span class="muted">
                {e.cause.action}
                {e.cause.field ? ` ${e.cause.field}` : ""}
                {e.cause.rule ? ` (rule ${e.cause.rule})` : ""} · {e.clientIds.join(", ")}
              </span>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}
