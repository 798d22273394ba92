// The console's own texts in English (here) and Russian (ru.ts, a chunk of its
// own fetched only when chosen, so the console stays small). The language is
// the one the operator chose with the switch in the header (kept in
// localStorage), else the first of the browser's languages
// (navigator.languages) that is either, else English. `t` is a live binding:
// setLang replaces it and the shell renders again. The API's messages follow
// the same choice: api.ts sends it as Accept-Language.

export type Lang = "en" | "ru";
export const langs: { code: Lang; name: string }[] = [
  { code: "en", name: "English" },
  { code: "ru", name: "Русский" },
];

const enPlural = (n: number, one: string, other = `${one}s`) => `${n} ${n === 1 ? one : other}`;

const en = {
  // the shell
  skip: "Skip to content",
  mainNav: "Main",
  navLookup: "Lookup",
  navSettings: "Settings",
  project: "Project",
  operator: "operator",
  signOut: "Sign out",
  // api.ts
  errUnauthenticated: "The API key is not valid (or was revoked). Sign in again.",
  errForbidden: "This API key's role may not do that.",
  errNotFound: "Not found.",
  errInternal: "The server failed; try again in a moment.",
  errUnreachable: "The server cannot be reached.",
  errStatus: (s: number) => `The server answered ${s}.`,
  errNoData: "The server answered no data.",
  // ui.tsx
  tryAgain: "Try again",
  // sign-in
  consoleTitle: "Multicontact console",
  signInIntro: "Sign in with one of the project's API keys. The key stays in this tab only and is forgotten when it closes.",
  projectId: "Project id",
  apiKey: "API key",
  signIn: "Sign in",
  signingIn: "Signing in…",
  noProject: (p: string) => `There is no project "${p}".`,
  keyNotOfProject: "This key does not belong to that project.",
  // lookup
  lookupTitle: "Lookup",
  lookupLabel: "Identifier, name or client id",
  lookupPlaceholder: "+7 916 123-45-67, ann@example.com, Anna, tg-42…",
  searchIn: "Search in",
  anyField: "any field, then names",
  byName: "name or text (search)",
  clientIdOption: "client id",
  search: "Search",
  lookupEmpty: "Type a phone (any spelling), an email or another identifier, a name or a client id.",
  loadingResults: "Loading results…",
  noHolder: (q: string) => `No client holds or is called “${q}”.`,
  nameFallback: (q: string) => `No identifier or client id is “${q}”; these clients have a name or text like it, best first.`,
  clients: (n: number) => enPlural(n, "client"),
  clientsAndMore: (n: number) => `${enPlural(n, "client")}, more to load`,
  colClient: "Client",
  colChannel: "Channel",
  colFoundBy: "Found by",
  colLastSeen: "Last seen",
  colMultiContact: "Multi-contact",
  excluded: "excluded",
  foundById: "client id",
  foundByName: "name or text",
  moreResults: "More results",
  // the multi-contact view
  mcTitle: "Multi-contact",
  loadingMc: "Loading the multi-contact…",
  noMc: "There is no multi-contact “",
  noMcEnd: "” in this project.",
  lookInstead: "Look a client up",
  instead: " instead.",
  liveTitle: "Changes arrive through the multiContactChanged subscription",
  live: "● live",
  connecting: "○ connecting",
  since: "since",
  aka: "also known as",
  deleted: "This multi-contact was deleted; what you see is its last state.",
  answerHere: "Answer here",
  noChannel: "No channel has activity yet.",
  answerBadge: "answer here",
  members: (n: number) => `Members (${n})`,
  lastActivity: "last activity",
  exclude: "Exclude",
  include: "Include",
  noIdentifiers: "No identifiers.",
  identifiersOf: (who: string) => `Identifiers of ${who}`,
  colField: "Field",
  colValue: "Value",
  colSource: "Source",
  colActions: "Actions",
  verified: "verified",
  verifiedTitle: "signed by the business's server",
  block: "Block",
  sources: { BOT: "bot", WIDGET: "widget", OPERATOR: "operator", INTEGRATION: "integration", IMPORT: "import" } as Record<string, string>,
  conversations: "Conversations",
  noConversations: "No conversations recorded for these clients.",
  noSummary: "(no summary)",
  graph: "Graph",
  graphImg: (n: number) => `Graph of ${enPlural(n, "client")} and what links them; the list below it and the sections beside it say the same in text.`,
  graphNodes: "Clients in the graph",
  graphKeys: "Tab into the list, arrows move between clients, Enter or Space picks one; pick two to see why they are linked.",
  legendClient: "client",
  legendChannel: "channel",
  legendKey: "value that links (edge: rule)",
  legendManual: "manual link. Click two clients to explain their link.",
  manualEdge: "manual link",
  linkedByHand: "linked by hand",
  whyLinked: "Why are they linked?",
  clientA: "Client A",
  clientB: "Client B",
  chooseClient: "choose a client",
  pickTwo: "Pick two clients here, click them in the graph or press Enter on them in its list.",
  pickDifferent: "Pick two different clients.",
  loadingExplain: "Loading the explanation…",
  notLinked: "These two clients are not linked.",
  manualLinks: "Manual links",
  noManualLinks: "No manual links.",
  unlink: "Unlink",
  and: "and",
  member: "Member",
  linkTo: "Link to client id",
  linkToPlaceholder: "another client's id",
  link: "Link",
  liveChanges: "Live changes",
  noLiveChanges: "No changes since you opened this view; merges and splits appear here as they happen.",
  rule: "rule",
  // history
  history: "History",
  loadingHistory: "Loading the history…",
  noHistory: "No events recorded.",
  moreHistory: (n: number) => `Show ${n} older`,
  historyCount: (shown: number, all: number) => `${shown} of ${enPlural(all, "event")}, newest first`,
  historyCut: (n: number) => `Only the first ${n} events are read.`,
  eventTypes: { CREATED: "created", MERGED: "merged", SPLIT: "split", UPDATED: "updated", DELETED: "deleted", FORGOTTEN: "forgotten", QUARANTINED: "key quarantined" } as Record<string, string>,
  quarantineAlert: (key: string, size: number) =>
    `${key} is now held by ${enPlural(size, "client")}, more than the project's cap: it was quarantined and links nobody.`,
  reviewQuarantine: "Review it in Settings",
  causeKinds: { VALUE: "value", CLIENT: "client", MANUAL: "by hand", RULE_CHANGE: "rule change" } as Record<string, string>,
  absorbed: "absorbed",
  splitOff: "split off",
  // forget
  forgetTitle: "Erase on request",
  forgetIntro: "When a person asks to be forgotten (GDPR, 152-FZ), erase everything the project knows about them.",
  forgetButton: "Forget this person…",
  forgetDialog: "Forget this person?",
  forgetWhat: (n: number, id: string) =>
    `This erases ${enPlural(n, "client")} of multi-contact ${id}: their channel user ids and names, their identifiers (a value nobody else holds is deleted), conversations, manual links and match keys. Earlier events keep only ids and counts.`,
  forgetUndo: "This cannot be undone.",
  forgetConfirm: "Forget for good",
  forgetting: "Forgetting…",
  cancel: "Cancel",
  forgotten: "This person was forgotten.",
  forgottenCounts: (c: { clients: number; values: number; conversations: number; links: number }) =>
    `Erased: ${enPlural(c.clients, "client")}, ${enPlural(c.values, "identifier")}, ${enPlural(c.conversations, "conversation")}, ${enPlural(c.links, "manual link")}. Only ids and counts remain in the history.`,
  // settings
  settingsTitle: "Settings → Multi-contacts",
  loadingSettings: "Loading the project's settings…",
  noProjectLeft: "The project no longer exists.",
  operatorNote: "You are signed in with an operator key: you can block values here; changing rules, fields and caps needs an ADMIN key.",
  reResolving: (p: number) => `Re-resolving the project under the new rules: ${p}%`,
  refresh: "refresh",
  rules: "Rules",
  rulesIntro: "Clients sharing a value of every field of a rule are one multi-contact.",
  noRules: "No rules yet: every client is its own multi-contact.",
  off: "off",
  verifiedOnly: "verified only",
  switchOff: "Switch off",
  switchOn: "Switch on",
  remove: "Remove",
  addRule: "Add rule",
  addRuleTitle: (n: string) => `Add rule “${n}”`,
  loadingPreview: "Loading the preview…",
  previewOf: (title: string) => `Preview: ${title}`,
  wouldMerge: "would merge",
  wouldSplit: "would split",
  mcsAfter: "multi-contacts after",
  largestAfter: "largest after",
  saving: "Saving…",
  saveChange: "Save change",
  addARule: "Add a rule",
  name: "Name",
  ruleNamePlaceholder: "e.g. by phone and contract",
  byFields: (f: string) => `by ${f}`,
  fieldsMustMatch: "Fields that must all match",
  custom: (type: string) => `custom ${type}`,
  createOwnField: "+ Create your own field",
  onlyVerified: "Only verified values link",
  previewRule: "Preview rule",
  createField: "Create field",
  creating: "Creating…",
  createOwnFieldTitle: "Create your own field",
  key: "Key",
  label: "Label",
  type: "Type",
  fieldTypes: { TEXT: "text", ID: "id (exact)", PHONE: "phone", EMAIL: "email" } as Record<string, string>,
  caps: "Caps",
  defaultRegion: "default region",
  keyCap: "Clients per match key before it is quarantined",
  valueCap: "Values per field per client",
  capsSaved: "Saved; the project re-resolves under the new caps.",
  saveCaps: "Save caps",
  widget: "Website widget",
  widgetIntro: "Values that a visitor types into the website widget are kept and shown as unverified. Values in a user token signed by your server are verified and always link.",
  widgetAccept: "Let unverified widget values link clients",
  widgetRisk: "Risk: anyone who opens your website can then type someone else's e-mail or phone and be joined to that person's multi-contact, seeing nothing but making operators see a stranger as that person.",
  savedReResolves: "Saved; the project re-resolves.",
  save: "Save",
  blockedValues: "Blocked values",
  blockedIntro: "A blocked value links nobody (a shop's own phone, a test email).",
  noBlocked: "No blocked values.",
  unblock: "Unblock",
  value: "Value",
  quarantined: "Quarantined keys",
  quarantineIntro: (cap: number) => `A match key held by more than ${enPlural(cap, "client")} links nobody until you allow it.`,
  noQuarantined: "No quarantined keys.",
  allow: "Allow",
};

export type Texts = typeof en;

const load: Record<Lang, () => Promise<Texts>> = { en: async () => en, ru: async () => (await import("./ru")).ru };
const storageKey = "multicontact.lang";

function initial(): Lang {
  try {
    const kept = localStorage.getItem(storageKey);
    if (kept === "en" || kept === "ru") return kept;
  } catch {
    // storage may be off; fall back to the browser's languages
  }
  for (const l of navigator.languages?.length ? navigator.languages : [navigator.language]) {
    const p = (l ?? "").toLowerCase().slice(0, 2);
    if (p === "ru" || p === "en") return p;
  }
  return "en";
}

export let lang: Lang = "en";
export let t: Texts = en;

async function use(l: Lang) {
  t = await load[l]();
  lang = l;
  document.documentElement.lang = l;
}

/** ready settles once the texts of the language the console opens in are there (English when they cannot be fetched). */
export const ready: Promise<void> = use(initial()).catch(() => {});

/** setLang switches the console's language and remembers the operator's choice. */
export async function setLang(l: Lang) {
  await use(l);
  try {
    localStorage.setItem(storageKey, l);
  } catch {
    // not kept: the choice lasts until the page reloads
  }
}
