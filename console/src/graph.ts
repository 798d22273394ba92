// The drawing of a multi-contact: clients, their channels and the values
// (match keys) or manual links that join them, with the rule on each edge.
// Loaded on demand, so the rest of the console stays small.
import cytoscape, { type Core, type ElementDefinition } from "cytoscape";
import type { MultiContact } from "./types";

export interface Drawing {
  /** update redraws mc with the selected clients marked, focused ringed (the keyboard's place), manual edges labelled manualLabel. */
  update(mc: MultiContact, selected: string[], focused: string | null, manualLabel: string): void;
  destroy(): void;
}

const keyLabel = (values: { field: string; value: string }[]) => values.map((v) => `${v.field}: ${v.value}`).join("\n");

/** elements turns a multi-contact into the graph's nodes and edges. */
export function elements(mc: MultiContact, selected: string[], focused: string | null, manualLabel: string): ElementDefinition[] {
  const out: ElementDefinition[] = [];
  const seen = new Set<string>();
  const add = (e: ElementDefinition) => {
    const id = e.data.id!;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(e);
    }
  };
  for (const c of mc.clients) {
    const classes = ["client", c.excluded ? "excluded" : "", selected.includes(c.id) ? "picked" : "", focused === c.id ? "focused" : ""].filter(Boolean).join(" ");
    add({ group: "nodes", data: { id: `c:${c.id}`, client: c.id, label: c.displayName ? `${c.displayName}\n${c.id}` : c.id }, classes });
    const ch = `ch:${c.channel.kind}/${c.channel.account}`;
    add({ group: "nodes", data: { id: ch, label: `${c.channel.kind}\n${c.channel.account}` }, classes: "channel" });
    add({ group: "edges", data: { id: `e:${c.id}>${ch}`, source: `c:${c.id}`, target: ch, label: "" }, classes: "via" });
  }
  for (const l of mc.links) {
    if (l.manual) {
      const [a, b] = [l.from, l.to].sort();
      add({ group: "edges", data: { id: `m:${a}|${b}`, source: `c:${a}`, target: `c:${b}`, label: manualLabel }, classes: "manual" });
      continue;
    }
    const key = `k:${l.rule ?? ""}:${keyLabel(l.values)}`;
    add({ group: "nodes", data: { id: key, label: keyLabel(l.values) }, classes: "key" });
    const rule = l.ruleName ?? l.rule ?? "rule";
    for (const end of [l.from, l.to]) {
      add({ group: "edges", data: { id: `r:${end}>${key}`, source: `c:${end}`, target: key, label: rule }, classes: "rule" });
    }
  }
  return out.filter((e) => e.group === "nodes" || (seen.has(e.data.source!) && seen.has(e.data.target!)));
}

const style: cytoscape.StylesheetJson = [
  { selector: "node", style: { label: "data(label)", "text-wrap": "wrap", "font-size": 13, "text-valign": "bottom", "text-margin-y": 4, color: "#1f2933", "font-family": "system-ui, sans-serif" } },
  { selector: "node.client", style: { shape: "ellipse", width: 34, height: 34, "background-color": "#2563eb", "border-width": 2, "border-color": "#1e40af" } },
  { selector: "node.client.excluded", style: { "background-color": "#9ca3af", "border-style": "dashed" } },
  { selector: "node.client.picked", style: { "border-width": 5, "border-color": "#f59e0b" } },
  { selector: "node.client.focused", style: { "underlay-color": "#f59e0b", "underlay-opacity": 0.45, "underlay-padding": 9, "underlay-shape": "ellipse" } },
  { selector: "node.channel", style: { shape: "round-rectangle", width: 26, height: 20, "background-color": "#10b981" } },
  { selector: "node.key", style: { shape: "diamond", width: 22, height: 22, "background-color": "#8b5cf6" } },
  { selector: "node.new", style: { "overlay-color": "#f59e0b", "overlay-opacity": 0.35, "overlay-padding": 8 } },
  { selector: "edge", style: { width: 2, "curve-style": "bezier", label: "data(label)", "font-size": 12, "text-rotation": "autorotate", "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": "2px", color: "#374151", "line-color": "#94a3b8" } },
  { selector: "edge.via", style: { "line-color": "#a7f3d0", width: 1.5 } },
  { selector: "edge.rule", style: { "line-color": "#8b5cf6" } },
  { selector: "edge.manual", style: { "line-color": "#f97316", "line-style": "dashed", width: 3 } },
];

/** draw mounts the drawing in container; onPick is told the client clicked. */
export function draw(container: HTMLElement, onPick: (clientId: string) => void): Drawing {
  const cy: Core = cytoscape({ container, style, minZoom: 0.3, maxZoom: 3, wheelSensitivity: 0.3, boxSelectionEnabled: false, autoungrabify: false });
  cy.on("tap", "node.client", (e) => onPick(e.target.data("client")));
  // Follow the container's size (narrow screens, rotated phones).
  const resized = new ResizeObserver(() => {
    if (cy.destroyed()) return;
    cy.resize();
    cy.fit(undefined, 24);
  });
  resized.observe(container);
  let first = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let layout: cytoscape.Layouts | undefined;
  return {
    update(mc, selected, focused, manualLabel) {
      const want = elements(mc, selected, focused, manualLabel);
      container.dataset.focused = focused ?? ""; // what the canvas rings, for tests and for reading the page
      const ids = new Set(want.map((e) => e.data.id!));
      const added: string[] = [];
      cy.batch(() => {
        cy.elements().forEach((el) => {
          if (!ids.has(el.id())) el.remove();
        });
        for (const e of want) {
          const el = cy.getElementById(e.data.id!);
          if (el.nonempty()) {
            el.data(e.data);
            el.classes(e.classes ?? "");
          } else {
            const near = e.group === "nodes" ? cy.nodes().first() : undefined;
            cy.add({ ...e, position: near?.nonempty() ? { x: near.position("x") + 40 * Math.random(), y: near.position("y") + 40 * Math.random() } : undefined });
            if (!first) added.push(e.data.id!);
          }
        }
      });
      if (added.length || first) {
        layout?.stop();
        layout = cy.layout({ name: "cose", animate: first ? false : "end", // "end": computed at once, then animated; a live animated cose outlives cy.destroy()
          animationDuration: 400, randomize: first, nodeRepulsion: () => 4000, idealEdgeLength: () => 50, padding: 24, fit: true } as cytoscape.LayoutOptions);
        layout.run();
      }
      if (added.length) {
        let news = cy.collection();
        for (const id of added) news = news.union(cy.getElementById(id));
        news.addClass("new");
        clearTimeout(timer);
        timer = setTimeout(() => cy.destroyed() || news.removeClass("new"), 4000);
      }
      first = false;
    },
    destroy() {
      resized.disconnect();
      clearTimeout(timer);
      layout?.stop();
      cy.destroy();
    },
  };
}
