// Browser test of the console: headless Chromium (Debian's /usr/bin/chromium)
// driven by playwright-core against a running service with a seeded project.
// The Go test TestConsoleInBrowser (cmd/multicontact/console_test.go) boots the
// service, seeds the project and runs this script with:
//   CONSOLE_URL       http://127.0.0.1:PORT (the service)
//   CONSOLE_PROJECT   the project id
//   CONSOLE_ADMIN_KEY an ADMIN key, used to sign in
//   CONSOLE_WRITE_KEY a WRITE key, used to change data behind the console's back
//   CONSOLE_SHOTS     where to write screenshots (docs/screenshots to refresh them)
// It exits non-zero on the first failed scenario.
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = (k) => process.env[k] ?? (() => { throw new Error(`${k} is not set`); })();
const base = env("CONSOLE_URL");
const project = env("CONSOLE_PROJECT");
const adminKey = env("CONSOLE_ADMIN_KEY");
const writeKey = env("CONSOLE_WRITE_KEY");
const shots = env("CONSOLE_SHOTS");
mkdirSync(shots, { recursive: true });

async function api(query, variables) {
  const res = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${writeKey}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors?.length) throw new Error(`api: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const profile = mkdtempSync(join(tmpdir(), "console-e2e-"));
// A fresh profile each run (playwright passes it as --user-data-dir).
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 800 },
  deviceScaleFactor: 1,
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(15000);
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.stack ?? e.message}`));
page.on("console", (m) => m.type() === "error" && problems.push(`console error: ${m.text()}`));

let step = "start";
const scenario = async (name, f) => {
  step = name;
  const t0 = Date.now();
  await f();
  console.log(`ok   ${name} (${Date.now() - t0} ms)`);
};
const shot = (name, opts = {}) => page.screenshot({ path: join(shots, `${name}.png`), ...opts });
const expectText = async (locator, text) => {
  await locator.filter({ hasText: text }).first().waitFor();
};
// audit runs axe-core (WCAG 2.1 A and AA, and axe's best practices) on what
// the page shows now and fails on any violation. axe is evaluated through the
// DevTools protocol, which the console's Content-Security-Policy does not
// stop (a <script> tag would be refused, rightly).
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const audit = async (p, where) => {
  if (!(await p.evaluate(() => "axe" in window))) await p.evaluate(axeSource);
  const r = await p.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }),
  );
  const bad = r.violations.map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 4).map((n) => n.target.join(" ")).join(", ")}`);
  console.log(`     audit of ${where}: ${r.passes.length} rules pass`);
  if (bad.length) throw new Error(`accessibility audit of ${where}:\n  ${bad.join("\n  ")}`);
};
// The history's times never grow down the list.
const assertNewestFirst = async () => {
  const times = await page.locator("#history li time").evaluateAll((ts) => ts.map((t) => Date.parse(t.getAttribute("datetime"))));
  for (let i = 1; i < times.length; i++) if (times[i] > times[i - 1]) throw new Error(`history not newest first at ${i}: ${times.join(" ")}`);
};

let failed = false;
try {
  await scenario("serves the console with its assets", async () => {
    const res = await page.goto(`${base}/console`);
    if (!res.ok()) throw new Error(`GET /console: ${res.status()}`);
    if (!page.url().endsWith("/console/")) throw new Error(`not redirected to /console/: ${page.url()}`);
    await page.getByRole("heading", { name: "Multicontact console" }).waitFor();
    await audit(page, "the sign-in");
  });

  await scenario("refuses a wrong key, then signs in with the project key", async () => {
    await shot("signin");
    await page.getByLabel("Project id").fill(project);
    await page.getByLabel("API key").fill("not-a-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
    await page.getByLabel("API key").fill(adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Lookup" }).waitFor();
    problems.length = 0; // the browser logs the refused key's 401
    const stored = await page.evaluate(() => ({ session: sessionStorage.length, local: localStorage.length }));
    if (stored.session !== 1 || stored.local !== 0) throw new Error(`storage ${JSON.stringify(stored)}: the key belongs in sessionStorage only`);
  });

  await scenario("adds a rule and sees its preview before saving", async () => {
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("heading", { name: "Rules" }).waitFor();
    await page.getByRole("button", { name: "Add rule" }).click();
    await page.getByRole("checkbox", { name: /^Contract number/ }).check();
    await page.getByRole("button", { name: "Preview rule" }).click();
    const merges = page.locator('[data-testid="preview"] [data-k="merges"]');
    await merges.waitFor();
    if (Number(await merges.textContent()) < 1) throw new Error(`preview shows ${await merges.textContent()} merges, want at least 1 (the two Carls)`);
    await shot("settings");
    await audit(page, "the settings with a rule's preview");
    await page.getByRole("button", { name: "Save change" }).click();
    await expectText(page.locator("ul.rules li"), "by Contract number");
  });

  await scenario("allows a quarantined key", async () => {
    const row = page.locator("#quarantine li").filter({ hasText: "dana@example.com" });
    await expectText(row, "3 clients");
    await audit(page, "the settings with a quarantined key");
    await page.getByRole("button", { name: "Allow email dana@example.com" }).click();
    await page.locator("#quarantine").getByText("No quarantined keys.").waitFor();
  });

  await scenario("creates its own field from the rule picker", async () => {
    await page.getByRole("button", { name: "Add rule" }).click();
    await page.getByRole("button", { name: "+ Create your own field" }).click();
    await page.getByLabel("Key", { exact: true }).fill("loyaltyCard");
    await page.getByLabel("Label", { exact: true }).fill("Loyalty card");
    await page.getByRole("button", { name: "Create field" }).click();
    await page.getByRole("checkbox", { name: /^Loyalty card/ }).isChecked().then((c) => { if (!c) throw new Error("the new field is not chosen"); });
    await page.getByRole("button", { name: "Cancel" }).click();
  });

  await scenario("looks a client up by a differently typed phone", async () => {
    await page.getByRole("link", { name: "Lookup" }).click();
    await page.getByLabel("Identifier, name or client id").fill("8 (916) 123 45 67");
    await page.getByRole("button", { name: "Search" }).click();
    const row = page.locator('tr[data-client="tg-anna"]');
    await row.waitFor();
    await expectText(row, "telegram");
    await page.locator('tr[data-client="wa-anna"]').waitFor();
    await shot("lookup");
    await audit(page, "the lookup's results");
  });

  await scenario("searches by name, a page at a time, and by a mistyped name", async () => {
    const field = page.getByLabel("Identifier, name or client id");
    await field.fill("Guest");
    await page.getByLabel("Search in").selectOption("name");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("heading", { name: "20 clients, more to load" }).waitFor();
    if ((await page.locator('tr[data-client^="web-guest-"]').count()) !== 20) throw new Error("the first page of the search is not 20 guests");
    await page.getByRole("button", { name: "More results" }).click();
    await page.getByRole("heading", { name: "21 clients" }).waitFor();
    await page.locator('tr[data-client^="web-guest-"]').nth(20).waitFor();
    if (await page.getByRole("button", { name: "More results" }).count()) throw new Error("More results is offered after the last page");
    // The Danas, whose key was just allowed, are one multi-contact now.
    await field.fill("Dana");
    await page.getByRole("button", { name: "Search" }).click();
    await expectText(page.locator('tr[data-client="web-dana"]'), "3 clients");
    // "any field": nothing holds a mistyped surname, so names are searched.
    await page.getByLabel("Search in").selectOption("");
    await field.fill("Petrva");
    await page.getByRole("button", { name: "Search" }).click();
    await page.locator('[data-testid="by-name"]').waitFor();
    await expectText(page.locator('tr[data-client="tg-anna"]'), "name or text");
    await audit(page, "the results of a search by name");
  });

  await scenario("shows a multi-contact: members, where to answer, conversations, graph", async () => {
    await page.locator('tr[data-client="tg-anna"] a').click();
    await page.getByRole("heading", { name: "Members (3)" }).waitFor();
    await expectText(page.locator("ol.channels li.first"), "answer here");
    await expectText(page.locator("ul.convs li"), "return policy");
    await page.locator(".graph canvas").first().waitFor();
    await page.waitForTimeout(600); // the graph's layout settles
    await shot("multicontact");
    await audit(page, "a multi-contact");
  });

  await scenario("shows the multi-contact's history, newest first", async () => {
    const items = page.locator("#history li");
    await items.first().waitFor();
    const types = await items.evaluateAll((ls) => ls.map((l) => l.dataset.type));
    if (types.length < 3 || types.at(-1) !== "CREATED") throw new Error(`history ${types.join(" ")}: want the three clients' arrivals, CREATED last (oldest)`);
    for (const text of await items.allTextContents()) if (!text.includes("client · upsertClient")) throw new Error(`history item without its cause: ${text}`);
    await assertNewestFirst();
  });

  await scenario("blocks a value, then unblocks it in the settings", async () => {
    await page.getByRole("table", { name: "Identifiers of Anna Petrova" }).getByRole("button", { name: "Block phone +79161234567" }).click();
    await page.getByRole("heading", { name: "Members (2)" }).waitFor();
    await page.locator('#live li[data-type="SPLIT"]').waitFor();
    await expectText(page.locator('#history li[data-type="SPLIT"]'), "blockValue · phone"); // the history follows live
    if (await page.locator('#members li[data-client="wa-anna"]').count()) throw new Error("wa-anna is still a member after its phone was blocked");
    const back = page.url();
    await page.getByRole("link", { name: "Settings" }).click();
    await expectText(page.locator("#blocked li"), "phone: +79161234567");
    await page.getByRole("button", { name: "Unblock phone +79161234567" }).click();
    await page.locator("#blocked").getByText("No blocked values.").waitFor();
    await page.goto(back);
    await page.getByRole("heading", { name: "Members (3)" }).waitFor();
    await page.locator('#members li[data-client="wa-anna"]').waitFor();
  });

  await scenario("excludes a client, then includes it again", async () => {
    await page.getByRole("button", { name: "Exclude Anna (site)" }).click();
    await page.getByRole("heading", { name: "Members (2)" }).waitFor();
    await page.getByRole("link", { name: "Lookup" }).click();
    await page.getByLabel("Identifier, name or client id").fill("web-anna");
    await page.getByRole("button", { name: "Search" }).click();
    const row = page.locator('tr[data-client="web-anna"]');
    await expectText(row, "excluded");
    await expectText(row, "1 client");
    await row.locator("a").click();
    await page.getByRole("heading", { name: "Members (1)" }).waitFor();
    await page.getByRole("button", { name: "Include Anna (site)" }).click();
    await page.getByRole("heading", { name: "Members (3)" }).waitFor();
    await page.locator('#members li[data-client="tg-anna"]').waitFor();
    if (await page.locator("#members .badge.warn").count()) throw new Error("a member is still marked excluded");
    await page.getByRole("link", { name: "Lookup" }).click();
  });

  await scenario("sees a merge arrive live in an open multi-contact view", async () => {
    await page.getByLabel("Identifier, name or client id").fill("vk-boris");
    await page.getByRole("button", { name: "Search" }).click();
    await page.locator('tr[data-client="vk-boris"] a').click();
    await page.getByRole("heading", { name: "Members (1)" }).waitFor();
    await page.locator(".live.on").waitFor();
    await page.locator(".graph canvas").first().waitFor();
    // Another channel learns Boris's phone, typed another way.
    await api(`mutation($p: ID!) { setAttribute(projectId: $p, clientId: "tg-boris", field: "phone", value: "8 903 555 00 11") { accepted } }`, { p: project });
    await page.getByRole("heading", { name: "Members (2)" }).waitFor();
    await page.locator('.events li[data-type="MERGED"]').waitFor();
    await page.locator('.graph[data-nodes="vk-boris tg-boris"], .graph[data-nodes="tg-boris vk-boris"]').waitFor();
  });

  await scenario("explains the link between two clients", async () => {
    await page.getByLabel("Client A").selectOption("vk-boris");
    await page.getByLabel("Client B").selectOption("tg-boris");
    await expectText(page.locator('[data-testid="explain"] li'), "phone +79035550011");
  });

  await scenario("moves through the graph by keyboard and explains a link with Enter", async () => {
    await page.reload(); // nothing picked
    await page.getByRole("heading", { name: "Members (2)" }).waitFor();
    await page.locator(".graph canvas").first().waitFor();
    const nodes = page.getByRole("listbox", { name: "Clients in the graph" });
    let inGraph = false;
    for (let i = 0; i < 60 && !inGraph; i++) {
      await page.keyboard.press("Tab");
      inGraph = await page.evaluate(() => document.activeElement?.matches('.graph-nodes [role="option"]') ?? false);
    }
    if (!inGraph) throw new Error("Tab never reaches the graph's clients");
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute("data-node"));
    const first = await focused();
    await page.locator(`.graph[data-focused="${first}"]`).waitFor(); // the canvas rings it
    await page.keyboard.press("ArrowRight");
    const second = await focused();
    if (!second || second === first) throw new Error(`ArrowRight stays on ${first}`);
    await page.locator(`.graph[data-focused="${second}"]`).waitFor();
    await page.keyboard.press("Enter");
    await page.waitForTimeout(300); // the ring and the pick reach the canvas
    await page.locator("#graph").screenshot({ path: join(shots, "graph-keyboard.png") });
    await nodes.getByRole("option", { selected: true }).first().waitFor();
    await page.keyboard.press("ArrowLeft");
    if ((await focused()) !== first) throw new Error("ArrowLeft does not come back");
    await page.keyboard.press("Enter");
    if ((await nodes.getByRole("option", { selected: true }).count()) !== 2) throw new Error("Enter did not pick both clients");
    await expectText(page.locator('[data-testid="explain"] li'), "phone +79035550011");
    await page.keyboard.press("Tab"); // leaving the list takes the ring off the canvas
    await page.locator('.graph[data-focused=""]').waitFor();
    await audit(page, "a multi-contact with two clients picked in the graph");
  });

  await scenario("links a client by hand and undoes it", async () => {
    await page.getByLabel("Link to client id").fill("web-solo");
    await page.getByRole("button", { name: "Link", exact: true }).click();
    await page.getByRole("heading", { name: "Members (3)" }).waitFor();
    await page.locator("#links li[data-link]").first().waitFor();
    await page.getByRole("button", { name: /^Unlink/ }).click();
    await page.getByRole("heading", { name: "Members (2)" }).waitFor();
    await page.getByText("No manual links.").waitFor();
    await page.locator('.events li[data-type="SPLIT"]').waitFor();
  });

  await scenario("works on a narrow screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("heading", { name: "Members (2)" }).waitFor();
    const overflow = await page.evaluate(() => {
      const w = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > w + 1);
      const name = (e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : ""}`;
      return { by: document.documentElement.scrollWidth - w, wide: wide.slice(0, 5).map(name) };
    });
    if (overflow.by > 0) throw new Error(`the page scrolls sideways by ${overflow.by}px at 390px: ${overflow.wide.join(", ")}`);
    await page.evaluate(() => scrollTo(0, 0));
    await shot("multicontact-narrow", { fullPage: false });
  });

  await scenario("pages through a long history", async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    for (let i = 1; i <= 12; i++) {
      await api(`mutation($p: ID!, $v: String!) { setAttribute(projectId: $p, clientId: "web-carl", field: "skype", value: $v) { accepted } }`, { p: project, v: `carl.${i}` });
      await api(`mutation($p: ID!, $v: String!) { removeAttribute(projectId: $p, clientId: "web-carl", field: "skype", value: $v) { id } }`, { p: project, v: `carl.${i}` });
    }
    await page.getByRole("link", { name: "Lookup" }).click();
    await page.getByLabel("Identifier, name or client id").fill("web-carl");
    await page.getByRole("button", { name: "Search" }).click();
    await page.locator('tr[data-client="web-carl"] a').click();
    await page.getByRole("heading", { name: "Members (2)" }).waitFor();
    const items = page.locator("#history li");
    await items.first().waitFor();
    if ((await items.count()) !== 20) throw new Error(`the history shows ${await items.count()} events at first, want 20`);
    if ((await items.first().getAttribute("data-type")) !== "UPDATED") throw new Error("the newest event is not the last removeAttribute");
    await expectText(items.first(), "removeAttribute");
    await page.getByRole("button", { name: /^Show \d+ older$/ }).click();
    await page.locator('#history li[data-type="CREATED"]').first().waitFor();
    if (await page.getByRole("button", { name: /^Show \d+ older$/ }).count()) throw new Error("more is offered after the oldest event");
    await assertNewestFirst();
  });

  await scenario("is told at once when a write puts a key in quarantine", async () => {
    // Two desks share the office phone; a third desk is open in the view when it learns the phone too (the cap is 2).
    const desk = (id, attributes) =>
      api(`mutation($p: ID!, $in: ClientInput!) { upsertClient(projectId: $p, input: $in) { id } }`, {
        p: project,
        in: { id, channel: { kind: "web", account: "office" }, attributes },
      });
    await desk("desk-1", [{ field: "phone", value: "+7 495 700-00-00" }]);
    await desk("desk-2", [{ field: "phone", value: "8 495 700 00 00" }]);
    await desk("desk-3", []);
    await page.getByRole("link", { name: "Lookup" }).click();
    await page.getByLabel("Identifier, name or client id").fill("desk-3");
    await page.getByRole("button", { name: "Search" }).click();
    await page.locator('tr[data-client="desk-3"] a').click();
    await page.getByRole("heading", { name: "Members (1)" }).waitFor();
    await page.locator(".live.on").waitFor();
    await api(`mutation($p: ID!) { setAttribute(projectId: $p, clientId: "desk-3", field: "phone", value: "84957000000") { accepted } }`, { p: project });
    const alert = page.getByTestId("quarantine-alert");
    await expectText(alert, "phone +74957000000 is now held by 3 clients");
    if ((await alert.getAttribute("role")) !== "alert") throw new Error("the quarantine notice is not announced as an alert");
    await page.locator('.events li[data-type="QUARANTINED"]').waitFor();
    await alert.getByRole("link", { name: "Review it in Settings" }).click();
    await expectText(page.locator("#quarantine"), "+74957000000");
  });

  await scenario("forgets a person only after a confirmation, and the person is gone", async () => {
    await page.getByRole("link", { name: "Lookup" }).click();
    await page.getByLabel("Identifier, name or client id").fill("dana@example.com");
    await page.getByRole("button", { name: "Search" }).click();
    await page.locator('tr[data-client="vk-dana"] a').click();
    await page.getByRole("heading", { name: "Members (3)" }).waitFor();
    const mcUrl = page.url();
    const dialog = page.getByRole("dialog", { name: "Forget this person?" });
    await page.getByRole("button", { name: /^Forget this person/ }).click();
    await expectText(dialog, "3 clients");
    await expectText(dialog, "This cannot be undone.");
    await audit(page, "the dialog that forgets a person");
    await shot("forget");
    if (!(await page.evaluate(() => document.activeElement?.textContent === "Cancel"))) throw new Error("the dialog does not start on Cancel");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("heading", { name: "Members (3)" }).waitFor();
    await page.getByRole("button", { name: /^Forget this person/ }).click();
    await dialog.getByRole("button", { name: "Forget for good" }).click();
    const done = page.locator('[data-testid="forgotten"]');
    await expectText(done, "This person was forgotten.");
    await expectText(done, "Erased: 3 clients, 3 identifiers");
    await audit(page, "a forgotten person's page");
    if (await page.locator("#members").count()) throw new Error("the forgotten person's members are still on the screen");
    // Gone: by the e-mail, by name and by the multi-contact's address.
    await page.getByRole("link", { name: "Lookup" }).click();
    await page.getByLabel("Identifier, name or client id").fill("dana@example.com");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByText("No client holds or is called “dana@example.com”.").waitFor();
    await page.getByLabel("Identifier, name or client id").fill("Dana Smirnova");
    await page.getByLabel("Search in").selectOption("name");
    await page.getByRole("button", { name: "Search" }).click();
    await page.locator('#results, .state.empty').first().waitFor();
    if (await page.locator('tr[data-client$="-dana"]').count()) throw new Error("search by name still finds a Dana");
    await page.goto(mcUrl);
    await page.getByText(/There is no multi-contact/).waitFor();
  });

  await scenario("speaks Russian when the browser does, and switches to English", async () => {
    const ru = await context.newPage();
    ru.on("pageerror", (e) => problems.push(`page error (ru): ${e.stack ?? e.message}`));
    ru.on("console", (m) => m.type() === "error" && problems.push(`console error (ru): ${m.text()}`));
    await ru.addInitScript(() => Object.defineProperty(navigator, "languages", { get: () => ["ru-RU", "ru", "en"] }));
    await ru.goto(`${base}/console/`);
    await ru.getByRole("heading", { name: "Консоль Multicontact" }).waitFor();
    await audit(ru, "the sign-in in Russian");
    if ((await ru.evaluate(() => document.documentElement.lang)) !== "ru") throw new Error("the page's lang is not ru");
    await ru.getByLabel("Идентификатор проекта").fill(project);
    await ru.getByLabel("Ключ API").fill(writeKey);
    await ru.getByRole("button", { name: "Войти" }).click();
    await ru.getByRole("heading", { name: "Поиск" }).waitFor();
    await ru.locator(".top .badge").getByText("оператор").waitFor();
    // The API's refusal in Russian too, though Chromium itself asks for English.
    const lookup = async (q, field) => {
      await ru.locator('input[name="q"]').fill(q);
      await ru.locator('select[name="field"]').selectOption(field);
      await ru.locator('form[role="search"] button[type="submit"]').click();
    };
    await lookup("no phone", "phone");
    const refusal = ru.getByRole("alert");
    await refusal.waitFor();
    if (!/[А-Яа-яЁё]/.test(await refusal.textContent())) throw new Error(`the API's refusal is not in Russian: ${await refusal.textContent()}`);
    await lookup("anna@example.com", "");
    await ru.locator('tr[data-client="web-anna"]').getByText("3 клиента").waitFor();
    await ru.locator('tr[data-client="web-anna"] a').click();
    await ru.getByRole("heading", { name: "Участники (3)" }).waitFor();
    await ru.getByRole("heading", { name: "История" }).waitFor();
    await ru.getByRole("heading", { name: "Почему они связаны?" }).waitFor();
    if (await ru.locator("#forget").count()) throw new Error("a WRITE key is offered to forget the person");
    await audit(ru, "a multi-contact in Russian");
    await ru.screenshot({ path: join(shots, "multicontact-ru.png") });
    await ru.getByLabel("Language · Язык").selectOption("en");
    await ru.getByRole("heading", { name: "Members (3)" }).waitFor();
    await ru.getByRole("heading", { name: "History" }).waitFor();
    await ru.getByRole("link", { name: "Lookup" }).click();
    await lookup("no phone", "phone");
    await ru.getByRole("alert").waitFor();
    const en = await ru.getByRole("alert").textContent();
    if (/[А-Яа-яЁё]/.test(en)) throw new Error(`after switching to English the API still answers in Russian: ${en}`);
    await ru.goto("about:blank");
    await ru.close();
  });

  await scenario("is usable by keyboard", async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${base}/console/#/lookup`);
    await page.getByRole("heading", { name: "Lookup" }).waitFor();
    await page.keyboard.press("Tab"); // the page's content has focus: the first tab is the search field
    const name = await page.evaluate(() => document.activeElement?.getAttribute("name"));
    if (name !== "q") throw new Error(`the first tab lands on ${name}, want the search field`);
    await page.keyboard.type("ANNA@example.com");
    await page.keyboard.press("Enter");
    await page.locator('tr[data-client="web-anna"]').waitFor();
    let reached = false;
    for (let i = 0; i < 20 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement?.matches('tr[data-client="web-anna"] a') ?? false);
    }
    if (!reached) throw new Error("the result's multi-contact link cannot be reached with Tab");
    // (Opening it by Enter is left out: a subscription opened in the last
    // moment races the service's shutdown, see the report on ServeMain.Close.)
  });

  if (problems.length) throw new Error(problems.join("\n"));
} catch (e) {
  failed = true;
  console.error(`FAIL ${step}: ${e.message}`);
  await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
  console.error(`(screenshot of the failure: ${join(shots, "failure.png")})`);
  console.error(problems.join("\n"));
} finally {
  // Leave the console first, so its websocket closes before the service stops.
  await page.goto("about:blank").catch(() => {});
  await page.waitForTimeout(500);
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
