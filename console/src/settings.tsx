// Settings → Multi-contacts: the project's rules, fields, caps, blocked values
// and quarantined keys. Every rule change is previewed with previewRules
// (how many multi-contacts would merge or split) before it is saved.
import { useState } from "preact/hooks";
import { gql, type Session } from "./api";
import { t } from "./i18n";
import type { Field, KeyPart, Project, Rule, RuleInput, RulePreview } from "./types";
import { Empty, ErrorBox, Loading, Section, Time, useAction, useLoad } from "./ui";

const projectQuery = `query($p: ID!) { project(id: $p) {
  id name defaultRegion settings { defaultRegion keyCap valueCap acceptUnverifiedWidgetValues }
  fields { key label type builtIn }
  rules { id name fields enabled requireVerified }
  quarantinedKeys { rule key parts { field value } size since }
  blockedValues { field value }
  resolution { state progress }
} }`;

const asInput = (r: Rule): RuleInput => ({ name: r.name, fields: r.fields, enabled: r.enabled, requireVerified: r.requireVerified });

/** A rule change waiting for the operator to confirm it after its preview. */
interface Pending {
  title: string;
  rules: RuleInput[];
  save: () => Promise<unknown>;
}

export function Settings({ session }: { session: Session }) {
  const [project, reload] = useLoad(
    () => gql<{ project: Project | null }>(session, projectQuery, { p: session.projectId }).then((d) => d.project),
    [session.key],
  );
  const [pending, setPending] = useState<Pending | null>(null);

  if (project.state === "loading") return <><h1>{t.settingsTitle}</h1><Loading what={t.loadingSettings} /></>;
  if (project.state === "error") return <><h1>{t.settingsTitle}</h1><ErrorBox error={project.error} retry={reload} /></>;
  const p = project.data;
  if (!p) return <><h1>{t.settingsTitle}</h1><Empty>{t.noProjectLeft}</Empty></>;

  const fieldLabel = (key: string) => p.fields.find((f) => f.key === key)?.label ?? key;
  const propose = (title: string, rules: RuleInput[], save: () => Promise<unknown>) => setPending({ title, rules, save });

  return (
    <>
      <h1>{t.settingsTitle}</h1>
      {!session.admin && <p class="note">{t.operatorNote}</p>}
      {p.resolution.state === "RUNNING" && (
        <p class="note" role="status">
          {t.reResolving(Math.round(p.resolution.progress * 100))}{" "}
          <button type="button" class="link" onClick={reload}>{t.refresh}</button>
        </p>
      )}
      <div class="settings-grid">
        <Section title={t.rules} id="rules">
          <p class="muted">{t.rulesIntro}</p>
          {p.rules.length === 0 ? (
            <Empty>{t.noRules}</Empty>
          ) : (
            <ul class="rules">
              {p.rules.map((r) => (
                <li class={r.enabled ? "" : "off"} data-rule={r.id}>
                  <div>
                    <strong>{r.name}</strong> {!r.enabled && <span class="badge">{t.off}</span>}
                    {r.requireVerified && <span class="badge">{t.verifiedOnly}</span>}
                    <div class="muted">{r.fields.map(fieldLabel).join(" + ")}</div>
                  </div>
                  {session.admin && (
                    <div class="row-actions">
                      <button
                        type="button"
                        disabled={pending != null}
                        onClick={() =>
                          propose(
                            `${r.enabled ? t.switchOff : t.switchOn} “${r.name}”`,
                            p.rules.map((x) => (x.id === r.id ? { ...asInput(x), enabled: !x.enabled } : asInput(x))),
                            () => gql(session, `mutation($p: ID!, $r: ID!, $in: RuleInput!) { updateRule(projectId: $p, ruleId: $r, input: $in) { id } }`, { p: p.id, r: r.id, in: { ...asInput(r), enabled: !r.enabled } }),
                          )
                        }
                      >
                        {r.enabled ? t.switchOff : t.switchOn}
                      </button>
                      <button
                        type="button"
                        class="danger"
                        disabled={pending != null}
                        onClick={() =>
                          propose(`${t.remove} “${r.name}”`, p.rules.filter((x) => x.id !== r.id).map(asInput), () =>
                            gql(session, `mutation($p: ID!, $r: ID!) { removeRule(projectId: $p, ruleId: $r) }`, { p: p.id, r: r.id }),
                          )
                        }
                      >
                        {t.remove}
                      </button>
                    </div>
                  )}
                </li>
              ))}
            </ul>
          )}
          {pending && (
            <PreviewPanel
              session={session}
              pending={pending}
              onDone={(saved) => {
                setPending(null);
                if (saved) reload();
              }}
            />
          )}
          {session.admin && !pending && (
            <AddRule session={session} project={p} onFieldAdded={reload} onPropose={(rule) =>
              propose(t.addRuleTitle(rule.name), [...p.rules.map(asInput), rule], () =>
                gql(session, `mutation($p: ID!, $in: RuleInput!) { addRule(projectId: $p, input: $in) { id } }`, { p: p.id, in: rule }),
              )
            } />
          )}
        </Section>

        <Caps session={session} project={p} onSaved={reload} />
        <WidgetValues session={session} project={p} onSaved={reload} />
        <Blocked session={session} project={p} onChanged={reload} />
        <Quarantine session={session} project={p} onChanged={reload} />
      </div>
    </>
  );
}

function PreviewPanel({ session, pending, onDone }: { session: Session; pending: Pending; onDone: (saved: boolean) => void }) {
  const [preview, retry] = useLoad(
    () => gql<{ previewRules: RulePreview }>(session, `query($p: ID!, $r: [RuleInput!]!) { previewRules(projectId: $p, rules: $r) { merges splits multiContacts largest } }`, { p: session.projectId, r: pending.rules }).then((d) => d.previewRules),
    [pending],
  );
  const [busy, error, run] = useAction();
  return (
    <div class="preview" role="region" aria-labelledby="preview-h" aria-live="polite">
      <h3 id="preview-h">{t.previewOf(pending.title)}</h3>
      {preview.state === "loading" ? (
        <Loading what={t.loadingPreview} />
      ) : preview.state === "error" ? (
        <ErrorBox error={preview.error} retry={retry} />
      ) : (
        <dl class="numbers" data-testid="preview">
          <div><dt>{t.wouldMerge}</dt><dd data-k="merges">{preview.data.merges}</dd></div>
          <div><dt>{t.wouldSplit}</dt><dd data-k="splits">{preview.data.splits}</dd></div>
          <div><dt>{t.mcsAfter}</dt><dd data-k="multiContacts">{preview.data.multiContacts}</dd></div>
          <div><dt>{t.largestAfter}</dt><dd data-k="largest">{preview.data.largest}</dd></div>
        </dl>
      )}
      {error != null && <ErrorBox error={error} />}
      <div class="row-actions">
        <button type="button" class="primary" disabled={busy || preview.state !== "ok"} onClick={async () => (await run(pending.save)) && onDone(true)}>
          {busy ? t.saving : t.saveChange}
        </button>
        <button type="button" disabled={busy} onClick={() => onDone(false)}>
          {t.cancel}
        </button>
      </div>
    </div>
  );
}

function AddRule({ session, project, onPropose, onFieldAdded }: { session: Session; project: Project; onPropose: (r: RuleInput) => void; onFieldAdded: () => void }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<string[]>([]);
  const [verified, setVerified] = useState(false);
  const [creating, setCreating] = useState(false);

  if (!open) {
    return (
      <button type="button" class="primary" onClick={() => setOpen(true)}>
        {t.addRule}
      </button>
    );
  }
  const toggle = (key: string) => setChosen((c) => (c.includes(key) ? c.filter((k) => k !== key) : [...c, key]));
  const submit = (e: Event) => {
    e.preventDefault();
    if (!chosen.length) return;
    const auto = chosen.map((k) => project.fields.find((f) => f.key === k)?.label ?? k).join(" + ");
    onPropose({ name: name.trim() || t.byFields(auto), fields: chosen, enabled: true, requireVerified: verified });
  };
  return (
    <form class="add-rule" onSubmit={submit} aria-labelledby="add-rule-h">
      <h3 id="add-rule-h">{t.addARule}</h3>
      <label>
        {t.name}
        <input name="rule-name" placeholder={t.ruleNamePlaceholder} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <fieldset class="fields">
        <legend>{t.fieldsMustMatch}</legend>
        {project.fields.map((f) => (
          <label class="check">
            <input type="checkbox" name="field" value={f.key} checked={chosen.includes(f.key)} onChange={() => toggle(f.key)} />
            {f.label} <span class="muted">({f.builtIn ? t.fieldTypes[f.type] : t.custom(t.fieldTypes[f.type])})</span>
          </label>
        ))}
      </fieldset>
      {creating ? (
        <NewField
          session={session}
          onDone={(f) => {
            setCreating(false);
            if (f) {
              setChosen((c) => [...c, f.key]);
              onFieldAdded();
            }
          }}
        />
      ) : (
        <button type="button" class="link" onClick={() => setCreating(true)}>
          {t.createOwnField}
        </button>
      )}
      <label class="check">
        <input type="checkbox" checked={verified} onChange={(e) => setVerified(e.currentTarget.checked)} /> {t.onlyVerified}
      </label>
      <div class="row-actions">
        <button type="submit" class="primary" disabled={!chosen.length}>
          {t.previewRule}
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          {t.cancel}
        </button>
      </div>
    </form>
  );
}

function NewField({ session, onDone }: { session: Session; onDone: (f: Field | null) => void }) {
  const [key, setKey] = useState("");
  const [label, setLabel] = useState("");
  const [type, setType] = useState<Field["type"]>("TEXT");
  const [busy, error, run] = useAction();
  const create = async () => {
    let made: Field | null = null;
    const ok = await run(async () => {
      const d = await gql<{ defineField: Field }>(session, `mutation($p: ID!, $in: FieldInput!) { defineField(projectId: $p, input: $in) { key label type builtIn } }`, {
        p: session.projectId,
        in: { key: key.trim(), label: label.trim() || null, type },
      });
      made = d.defineField;
    });
    if (ok) onDone(made);
  };
  return (
    <div class="new-field" role="group" aria-labelledby="new-field-h">
      <h4 id="new-field-h">{t.createOwnFieldTitle}</h4>
      <label>
        {t.key}
        <input name="field-key" required pattern="[A-Za-z][A-Za-z0-9_]*" placeholder="loyaltyCard" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
      </label>
      <label>
        {t.label}
        <input name="field-label" placeholder="Loyalty card" value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
      </label>
      <label>
        {t.type}
        <select name="field-type" value={type} onChange={(e) => setType(e.currentTarget.value as Field["type"])}>
          {(["TEXT", "ID", "PHONE", "EMAIL"] as const).map((k) => <option value={k}>{t.fieldTypes[k]}</option>)}
        </select>
      </label>
      {error != null && <ErrorBox error={error} />}
      <div class="row-actions">
        <button type="button" class="primary" disabled={busy || !key.trim()} onClick={create}>
          {busy ? t.creating : t.createField}
        </button>
        <button type="button" onClick={() => onDone(null)}>
          {t.cancel}
        </button>
      </div>
    </div>
  );
}

function Caps({ session, project, onSaved }: { session: Session; project: Project; onSaved: () => void }) {
  const [keyCap, setKeyCap] = useState(String(project.settings.keyCap));
  const [valueCap, setValueCap] = useState(String(project.settings.valueCap));
  const [busy, error, run] = useAction();
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(false);
    const ok = await run(() =>
      gql(session, `mutation($p: ID!, $in: ProjectSettingsInput!) { updateProjectSettings(projectId: $p, input: $in) { id } }`, {
        p: project.id,
        in: { keyCap: Number(keyCap), valueCap: Number(valueCap) },
      }),
    );
    if (ok) {
      setSaved(true);
      onSaved();
    }
  };
  return (
    <Section title={t.caps} id="caps">
      <form onSubmit={save} class="caps">
        <p class="muted">
          {project.name} · {t.defaultRegion} {project.settings.defaultRegion}
        </p>
        <label>
          {t.keyCap}
          <input type="number" name="keyCap" min={1} required disabled={!session.admin} value={keyCap} onInput={(e) => setKeyCap(e.currentTarget.value)} />
        </label>
        <label>
          {t.valueCap}
          <input type="number" name="valueCap" min={1} required disabled={!session.admin} value={valueCap} onInput={(e) => setValueCap(e.currentTarget.value)} />
        </label>
        {error != null && <ErrorBox error={error} />}
        {saved && <p role="status" class="ok">{t.capsSaved}</p>}
        {session.admin && (
          <button type="submit" disabled={busy}>
            {busy ? t.saving : t.saveCaps}
          </button>
        )}
      </form>
    </Section>
  );
}

function WidgetValues({ session, project, onSaved }: { session: Session; project: Project; onSaved: () => void }) {
  const [accept, setAccept] = useState(project.settings.acceptUnverifiedWidgetValues);
  const [busy, error, run] = useAction();
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setSaved(false);
    const ok = await run(() =>
      gql(session, `mutation($p: ID!, $in: ProjectSettingsInput!) { updateProjectSettings(projectId: $p, input: $in) { id } }`, {
        p: project.id,
        in: { acceptUnverifiedWidgetValues: accept },
      }),
    );
    if (ok) {
      setSaved(true);
      onSaved();
    }
  };
  return (
    <Section title={t.widget} id="widget">
      <form onSubmit={save} class="caps">
        <p class="muted">
          {t.widgetIntro}
        </p>
        <label class="check">
          <input
            type="checkbox"
            name="acceptUnverifiedWidgetValues"
            disabled={!session.admin}
            checked={accept}
            onChange={(e) => setAccept(e.currentTarget.checked)}
          />
          {t.widgetAccept}
        </label>
        <p class="muted">
          {t.widgetRisk}
        </p>
        {error != null && <ErrorBox error={error} />}
        {saved && <p role="status" class="ok">{t.savedReResolves}</p>}
        {session.admin && (
          <button type="submit" disabled={busy || accept === project.settings.acceptUnverifiedWidgetValues}>
            {busy ? t.saving : t.save}
          </button>
        )}
      </form>
    </Section>
  );
}

function Blocked({ session, project, onChanged }: { session: Session; project: Project; onChanged: () => void }) {
  const [field, setField] = useState(project.fields[0]?.key ?? "phone");
  const [value, setValue] = useState("");
  const [busy, error, run] = useAction();
  const block = async (e: Event) => {
    e.preventDefault();
    if (await run(() => gql(session, `mutation($p: ID!, $f: String!, $v: String!) { blockValue(projectId: $p, field: $f, value: $v) }`, { p: project.id, f: field, v: value }))) {
      setValue("");
      onChanged();
    }
  };
  const unblock = async (b: KeyPart) => {
    if (await run(() => gql(session, `mutation($p: ID!, $f: String!, $v: String!) { unblockValue(projectId: $p, field: $f, value: $v) }`, { p: project.id, f: b.field, v: b.value }))) onChanged();
  };
  return (
    <Section title={t.blockedValues} id="blocked">
      <p class="muted">{t.blockedIntro}</p>
      {project.blockedValues.length === 0 ? (
        <Empty>{t.noBlocked}</Empty>
      ) : (
        <ul class="plain">
          {project.blockedValues.map((b) => (
            <li>
              <span class="mono">{b.field}: {b.value}</span>{" "}
              <button type="button" class="small" disabled={busy} onClick={() => unblock(b)} aria-label={`${t.unblock} ${b.field} ${b.value}`}>
                {t.unblock}
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="inline" onSubmit={block}>
        <label>
          {t.colField}
          <select value={field} onChange={(e) => setField(e.currentTarget.value)}>
            {project.fields.map((f) => <option value={f.key}>{f.label}</option>)}
          </select>
        </label>
        <label class="grow">
          {t.value}
          <input required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy}>{t.block}</button>
      </form>
      {error != null && <ErrorBox error={error} />}
    </Section>
  );
}

function Quarantine({ session, project, onChanged }: { session: Session; project: Project; onChanged: () => void }) {
  const [busy, error, run] = useAction();
  const ruleName = (id: string) => project.rules.find((r) => r.id === id)?.name ?? id;
  return (
    <Section title={t.quarantined} id="quarantine">
      <p class="muted">{t.quarantineIntro(project.settings.keyCap)}</p>
      {project.quarantinedKeys.length === 0 ? (
        <Empty>{t.noQuarantined}</Empty>
      ) : (
        <ul class="plain">
          {project.quarantinedKeys.map((q) => (
            <li>
              <span class="mono">{q.parts.map((x) => `${x.field}: ${x.value}`).join(" + ")}</span>{" "}
              <span class="muted">
                {ruleName(q.rule)} · {t.clients(q.size)} · {t.since} <Time at={q.since} />
              </span>{" "}
              {session.admin && (
                <button
                  type="button"
                  class="small"
                  disabled={busy}
                  onClick={async () => (await run(() => gql(session, `mutation($p: ID!, $r: ID!, $k: String!) { allowKey(projectId: $p, rule: $r, key: $k) }`, { p: project.id, r: q.rule, k: q.key }))) && onChanged()}
                >
                  {t.allow}
                  <span class="sr"> {q.parts.map((x) => `${x.field} ${x.value}`).join(" + ")}</span>
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {error != null && <ErrorBox error={error} />}
    </Section>
  );
}
