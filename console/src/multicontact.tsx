// The multi-contact view: members with channels and identifiers, where to
// answer, conversations, a live drawing of what links the members (reachable
// by keyboard through the list of its clients), its history, and the
// operator's actions (explain, link, unlink, block a value, exclude a client;
// with an ADMIN key, forget the person).
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { gql, subscribe, type Session } from "./api";
import { t } from "./i18n";
import type { ChangeEvent, Client, ForgottenCounts, LinkStep, MultiContact, MultiContactPage } from "./types";
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

const eventFields = `type multiContactId previousIds newIds clientIds at cause { kind action field value rule } forgotten { clients values conversations links } quarantined { size parts { field value } }`;

const changed = `subscription($p: ID!, $mc: ID) { multiContactChanged(projectId: $p, multiContactId: $mc) { ${eventFields} } }`;

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
  const [forgotten, setForgotten] = useState<ForgottenCounts | null>(null);
  const [quarantine, setQuarantine] = useState<ChangeEvent["quarantined"]>(null);
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
        if (e.type === "QUARANTINED" && e.quarantined) setQuarantine(e.quarantined);
        if (e.type === "FORGOTTEN" && e.multiContactId === current) setForgotten(e.forgotten ?? { clients: 0, values: 0, conversations: 0, links: 0 });
        else if (e.type === "DELETED" && e.multiContactId === current) setGone(true);
        else if (e.multiContactId !== current && e.previousIds.includes(current)) location.hash = `#/mc/${encodeURIComponent(e.multiContactId)}`;
        else reload();
      },
      status: setLive,
    });
  }, [current, id, session.key]);

  const title = (
    <h1>
      {t.mcTitle} <span class="mono">{mc.state === "ok" && mc.data ? mc.data.id : id}</span>
    </h1>
  );
  // A forgotten person leaves the screen too: only the counts of what was erased stay.
  if (forgotten) return <>{title}<Forgotten counts={forgotten} /></>;
  if (mc.state === "loading") return <>{title}<Loading what={t.loadingMc} /></>;
  if (mc.state === "error") return <>{title}<ErrorBox error={mc.error} retry={reload} /></>;
  const m = mc.data;
  if (!m) return <>{title}<Empty>{t.noMc}{id}{t.noMcEnd} <a href="#/lookup">{t.lookInstead}</a>{t.instead}</Empty></>;

  const pick = (clientId: string) => setPicked((p) => (p.includes(clientId) ? p.filter((x) => x !== clientId) : [...p.slice(-1), clientId]));
  const name = (clientId: string) => {
    const c = m.clients.find((x) => x.id === clientId);
    return c?.displayName || clientId;
  };

  return (
    <>
      <div class="page-head">
        {title}
        <span class={`live ${live ? "on" : ""}`} role="status" title={t.liveTitle}>
          {live ? t.live : t.connecting}
        </span>
      </div>
      <p class="muted" data-testid="summary">
        {t.clients(m.size)} · {t.since} <Time at={m.createdAt} />
        {m.aliases.length > 0 && <> · {t.aka} {m.aliases.join(", ")}</>}
      </p>
      {gone && <p class="note" role="alert">{t.deleted}</p>}
      {quarantine && (
        <p class="note" role="alert" data-testid="quarantine-alert">
          {t.quarantineAlert(quarantine.parts.map((p) => `${p.field} ${p.value}`).join(" + "), quarantine.size)}{" "}
          <a href="#/settings">{t.reviewQuarantine}</a>
        </p>
      )}
      <div class="mc-grid">
        <div class="col">
          <AnswerHere mc={m} />
          <Members session={session} mc={m} onChanged={reload} />
          <Conversations mc={m} name={name} />
        </div>
        <div class="col">
          <Section title={t.graph} id="graph">
            <GraphView mc={m} picked={picked} onPick={pick} />
            <p class="legend muted">
              <span class="dot client" /> {t.legendClient} <span class="dot channel" /> {t.legendChannel} <span class="dot key" /> {t.legendKey}{" "}
              <span class="dash" /> {t.legendManual}
            </p>
          </Section>
          <Explain session={session} mc={m} picked={picked} setPicked={setPicked} />
          <Links session={session} mc={m} name={name} onChanged={reload} />
          <LiveLog events={events} />
          <History session={session} id={m.id} version={events.length ? events[0] : null} />
          {session.admin && <Forget session={session} mc={m} onForgotten={setForgotten} />}
        </div>
      </div>
    </>
  );
}

function Forgotten({ counts }: { counts: ForgottenCounts }) {
  const box = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => box.current?.focus(), []);
  return (
    <>
      <div class="note" role="status" data-testid="forgotten" tabIndex={-1} ref={box}>
        <p>
          <strong>{t.forgotten}</strong>
        </p>
        <p>{t.forgottenCounts(counts)}</p>
      </div>
      <p>
        <a href="#/lookup">{t.lookInstead}</a>
      </p>
    </>
  );
}

function AnswerHere({ mc }: { mc: MultiContact }) {
  return (
    <Section title={t.answerHere} id="answer">
      {mc.channels.length === 0 ? (
        <Empty>{t.noChannel}</Empty>
      ) : (
        <ol class="channels">
          {mc.channels.map((c, i) => (
            <li class={i === 0 ? "first" : ""}>
              <span class={`chan chan-${c.channel.kind}`}>{channelName(c.channel)}</span> <span class="mono">{c.channelUserId}</span>{" "}
              <span class="muted">
                {c.client.displayName || c.client.id} · <Time at={c.lastActivityAt} />
              </span>
              {i === 0 && <span class="badge ok">{t.answerBadge}</span>}
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
    <Section title={t.members(mc.clients.length)} id="members">
      {error != null && <ErrorBox error={error} />}
      <ul class="members">
        {mc.clients.map((c: Client) => (
          <li data-client={c.id}>
            <div class="member-head">
              <div>
                <strong>{c.displayName || c.id}</strong> <span class="muted mono">{c.id}</span>
                {c.excluded && <span class="badge warn">{t.excluded}</span>}
                <div>
                  <span class={`chan chan-${c.channel.kind}`}>{channelName(c.channel)}</span> <span class="muted mono">{c.channelUserId}</span>
                </div>
                <div class="muted">
                  {t.lastActivity} <Time at={c.lastSeenAt} />
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
                {c.excluded ? t.include : t.exclude}
                <span class="sr"> {c.displayName || c.id}</span>
              </button>
            </div>
            {c.attributes.length === 0 ? (
              <p class="muted">{t.noIdentifiers}</p>
            ) : (
              <table class="attrs">
                <caption class="sr">{t.identifiersOf(c.displayName || c.id)}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t.colField}</th>
                    <th scope="col">{t.colValue}</th>
                    <th scope="col">{t.colSource}</th>
                    <th scope="col"><span class="sr">{t.colActions}</span></th>
                  </tr>
                </thead>
                <tbody>
                  {c.attributes.map((a) => (
                    <tr>
                      <td>{a.field}</td>
                      <td class="mono">
                        {a.value} {a.verified && <span class="badge ok" title={t.verifiedTitle}>{t.verified}</span>}
                      </td>
                      <td class="muted">{t.sources[a.source] ?? a.source.toLowerCase()}</td>
                      <td>
                        <button
                          type="button"
                          class="small"
                          disabled={busy}
                          onClick={() => act(`mutation($p: ID!, $f: String!, $v: String!) { blockValue(projectId: $p, field: $f, value: $v) }`, { f: a.field, v: a.value })}
                        >
                          {t.block}<span class="sr"> {a.field} {a.value}</span>
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
    <Section title={t.conversations} id="conversations">
      {mc.conversations.length === 0 ? (
        <Empty>{t.noConversations}</Empty>
      ) : (
        <ul class="plain convs">
          {mc.conversations.map((c) => (
            <li>
              <div>
                <strong>{name(c.clientId)}</strong> <span class="muted">· <Time at={c.lastMessageAt} /></span>
              </div>
              <div>{c.summary || <span class="muted">{t.noSummary}</span>}</div>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

/**
 * GraphView draws the multi-contact on a canvas and mirrors its clients in a
 * listbox below it with a roving tabindex: Tab enters the list at the client
 * last visited, arrows (and Home, End) move between clients, and the canvas
 * rings the client that has the focus. Enter or Space picks a client as a
 * click on the canvas does, and two picked clients are explained.
 */
function GraphView({ mc, picked, onPick }: { mc: MultiContact; picked: string[]; onPick: (id: string) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const list = useRef<HTMLUListElement>(null);
  const drawing = useRef<Drawing | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [active, setActive] = useState("");
  const [focused, setFocused] = useState(false);
  const activeId = mc.clients.some((c) => c.id === active) ? active : (mc.clients[0]?.id ?? "");
  const ring = focused ? activeId : null;
  const pickRef = useRef(onPick);
  pickRef.current = onPick;
  const latest = useRef({ mc, picked, ring });
  latest.current = { mc, picked, ring };

  useEffect(() => {
    let dead = false;
    import("./graph").then(
      ({ draw }) => {
        if (dead || !box.current) return;
        drawing.current = draw(box.current, (id) => {
          pickRef.current(id);
          setActive(id);
        });
        drawing.current.update(latest.current.mc, latest.current.picked, latest.current.ring, t.manualEdge);
      },
      (e) => setError(e),
    );
    return () => {
      dead = true;
      drawing.current?.destroy();
      drawing.current = null;
    };
  }, []);
  useEffect(() => drawing.current?.update(mc, picked, ring, t.manualEdge), [mc, picked, ring, t]);

  const moveTo = (i: number) => {
    const c = mc.clients[Math.max(0, Math.min(mc.clients.length - 1, i))];
    if (!c) return;
    setActive(c.id);
    list.current?.querySelector<HTMLElement>(`[data-node="${CSS.escape(c.id)}"]`)?.focus();
  };
  const onKey = (e: KeyboardEvent) => {
    const i = mc.clients.findIndex((c) => c.id === activeId);
    const to: Record<string, number> = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: mc.clients.length - 1 };
    if (e.key in to) moveTo(to[e.key]);
    else if (e.key === "Enter" || e.key === " ") onPick(activeId);
    else return;
    e.preventDefault();
  };

  if (error) return <ErrorBox error={error} />;
  return (
    <>
      <div class="graph" ref={box} role="img" aria-label={t.graphImg(mc.clients.length)} data-nodes={mc.clients.map((c) => c.id).join(" ")} />
      <p class="muted small-print" id="graph-keys">
        {t.graphKeys}
      </p>
      <ul
        class="graph-nodes"
        role="listbox"
        aria-label={t.graphNodes}
        aria-describedby="graph-keys"
        aria-multiselectable="true"
        ref={list}
        onKeyDown={onKey}
        onFocusCapture={() => setFocused(true)}
        onBlurCapture={() => setFocused(false)}
      >
        {mc.clients.map((c) => (
          <li
            role="option"
            data-node={c.id}
            tabIndex={c.id === activeId ? 0 : -1}
            aria-selected={picked.includes(c.id)}
            onClick={() => {
              setActive(c.id);
              onPick(c.id);
            }}
          >
            {c.displayName || c.id} <span class="muted">· {c.channel.kind}</span>
          </li>
        ))}
      </ul>
    </>
  );
}

function stepText(s: LinkStep, name: (id: string) => string) {
  const how = s.manual ? t.linkedByHand : `${s.ruleName ?? s.rule}: ${s.values.map((v) => `${v.field} ${v.value}`).join(" + ")}`;
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
        <option value="">{t.chooseClient}</option>
        {mc.clients.map((c) => <option value={c.id}>{c.displayName ? `${c.displayName} (${c.id})` : c.id}</option>)}
      </select>
    </label>
  );
  return (
    <Section title={t.whyLinked} id="explain">
      <div class="inline">
        {select(t.clientA, a, (v) => setPicked([v, b].filter(Boolean)))}
        {select(t.clientB, b, (v) => setPicked([a, v].filter(Boolean)))}
      </div>
      <div aria-live="polite">
        {!a || !b ? (
          <p class="muted">{t.pickTwo}</p>
        ) : a === b ? (
          <p class="muted">{t.pickDifferent}</p>
        ) : busy ? (
          <Loading what={t.loadingExplain} />
        ) : error != null ? (
          <ErrorBox error={error} />
        ) : steps && steps.length === 0 ? (
          <Empty>{t.notLinked}</Empty>
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
    <Section title={t.manualLinks} id="links">
      {manual.length === 0 ? (
        <Empty>{t.noManualLinks}</Empty>
      ) : (
        <ul class="plain">
          {manual.map((l) => (
            <li data-link={`${l.from}|${l.to}`}>
              {name(l.from)} ↔ {name(l.to)}{" "}
              <button type="button" class="small danger" disabled={busy} onClick={() => unlink(l)}>
                {t.unlink}<span class="sr"> {name(l.from)} {t.and} {name(l.to)}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="inline" onSubmit={link}>
        <label>
          {t.member}
          <select value={from} onChange={(e) => setFrom(e.currentTarget.value)}>
            {mc.clients.map((c) => <option value={c.id}>{c.displayName || c.id}</option>)}
          </select>
        </label>
        <label class="grow">
          {t.linkTo}
          <input name="link-to" required value={other} onInput={(e) => setOther(e.currentTarget.value)} placeholder={t.linkToPlaceholder} />
        </label>
        <button type="submit" disabled={busy || !other.trim()}>
          {t.link}
        </button>
      </form>
      {error != null && <ErrorBox error={error} />}
    </Section>
  );
}

/** causeText says why an event happened: its kind, the operation, the value or rule involved, the ids it joined or split off. */
function causeText(e: ChangeEvent) {
  const c = e.cause;
  const parts = [t.causeKinds[c.kind] ?? c.kind, c.action];
  if (c.field) parts.push(c.value ? `${c.field} ${c.value}` : c.field);
  if (c.rule) parts.push(`${t.rule} ${c.rule}`);
  if (e.type === "MERGED" && e.previousIds.length) parts.push(`${t.absorbed} ${e.previousIds.join(", ")}`);
  if (e.type === "SPLIT" && e.newIds.length) parts.push(`${t.splitOff} ${e.newIds.join(", ")}`);
  return parts.join(" · ");
}

function EventLine({ e }: { e: ChangeEvent }) {
  return (
    <>
      <span class={`badge ev-${e.type.toLowerCase()}`}>{t.eventTypes[e.type] ?? e.type}</span> <Time at={e.at} /> <span class="muted">{causeText(e)}</span>
    </>
  );
}

function LiveLog({ events }: { events: ChangeEvent[] }) {
  return (
    <Section title={t.liveChanges} id="live">
      {events.length === 0 ? (
        <Empty>{t.noLiveChanges}</Empty>
      ) : (
        <ul class="plain events" aria-live="polite">
          {events.map((e) => (
            <li data-type={e.type}>
              <EventLine e={e} /> <span class="muted">· {e.clientIds.join(", ")}</span>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

const historyQuery = `query($p: ID!, $id: ID!, $after: String) { multiContact(projectId: $p, id: $id) {
  history(first: 1000, after: $after) { nodes { ${eventFields} } pageInfo { endCursor hasNextPage } } } }`;
const historyPages = 10; // pages of 1000 read at most
const historyStep = 20; // events shown per "show older"

/**
 * loadHistory reads the multi-contact's events. The API gives them oldest
 * first, a page after another; the view shows them newest first, so it reads
 * every page (up to historyPages) and turns them round.
 */
async function loadHistory(s: Session, id: string): Promise<{ events: ChangeEvent[]; cut: boolean }> {
  const all: ChangeEvent[] = [];
  let after: string | null = null;
  for (let i = 0; i < historyPages; i++) {
    const d: { multiContact: { history: { nodes: ChangeEvent[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } } } | null } = await gql(s, historyQuery, {
      p: s.projectId,
      id,
      after,
    });
    const h = d.multiContact?.history;
    if (!h) break;
    all.push(...h.nodes);
    if (!h.pageInfo.hasNextPage) return { events: all.reverse(), cut: false };
    after = h.pageInfo.endCursor;
  }
  return { events: all.reverse(), cut: all.length > 0 };
}

function History({ session, id, version }: { session: Session; id: string; version: unknown }) {
  const [history, reload] = useLoad(() => loadHistory(session, id), [session.key, id]);
  const [shown, setShown] = useState(historyStep);
  const first = useRef(true);
  useEffect(() => {
    // Every live change adds to the history: read it again, quietly.
    if (first.current) first.current = false;
    else reload();
  }, [version]);
  return (
    <Section title={t.history} id="history">
      {history.state === "loading" ? (
        <Loading what={t.loadingHistory} />
      ) : history.state === "error" ? (
        <ErrorBox error={history.error} retry={reload} />
      ) : history.data.events.length === 0 ? (
        <Empty>{t.noHistory}</Empty>
      ) : (
        <>
          <p class="muted" data-testid="history-count">
            {t.historyCount(Math.min(shown, history.data.events.length), history.data.events.length)}
            {history.data.cut && <> {t.historyCut(historyPages * 1000)}</>}
          </p>
          <ol class="plain history">
            {history.data.events.slice(0, shown).map((e) => (
              <li data-type={e.type}>
                <EventLine e={e} />
              </li>
            ))}
          </ol>
          {shown < history.data.events.length && (
            <button type="button" class="small" onClick={() => setShown((n) => n + historyStep)}>
              {t.moreHistory(Math.min(historyStep, history.data.events.length - shown))}
            </button>
          )}
        </>
      )}
    </Section>
  );
}

const forgetMutation = `mutation($p: ID!, $id: ID!) { forgetMultiContact(projectId: $p, id: $id) { type forgotten { clients values conversations links } } }`;

/** Forget erases the person (ADMIN keys only), after a dialog that says what goes and that it cannot be undone. */
function Forget({ session, mc, onForgotten }: { session: Session; mc: MultiContact; onForgotten: (c: ForgottenCounts) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, error, run, clear] = useAction();
  const forget = async () => {
    let counts: ForgottenCounts | null = null;
    const ok = await run(async () => {
      const d = await gql<{ forgetMultiContact: ChangeEvent }>(session, forgetMutation, { p: session.projectId, id: mc.id });
      counts = d.forgetMultiContact.forgotten ?? null;
    });
    if (ok) {
      dialog.current?.close();
      onForgotten(counts ?? { clients: mc.size, values: 0, conversations: 0, links: 0 });
    }
  };
  return (
    <Section title={t.forgetTitle} id="forget">
      <p class="muted">{t.forgetIntro}</p>
      <button
        type="button"
        class="danger"
        aria-haspopup="dialog"
        onClick={() => {
          clear();
          dialog.current?.showModal();
        }}
      >
        {t.forgetButton}
      </button>
      <dialog ref={dialog} class="confirm" aria-labelledby="forget-dialog-h" aria-describedby="forget-dialog-d">
        <h2 id="forget-dialog-h">{t.forgetDialog}</h2>
        <div id="forget-dialog-d">
          <p>{t.forgetWhat(mc.size, mc.id)}</p>
          <p>
            <strong>{t.forgetUndo}</strong>
          </p>
        </div>
        {error != null && <ErrorBox error={error} />}
        <div class="row-actions">
          <button type="button" autoFocus disabled={busy} onClick={() => dialog.current?.close()}>
            {t.cancel}
          </button>
          <button type="button" class="danger solid" disabled={busy} onClick={forget}>
            {busy ? t.forgetting : t.forgetConfirm}
          </button>
        </div>
      </dialog>
    </Section>
  );
}
