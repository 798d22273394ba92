// Builds the console into dist/: dist/index.html plus content-hashed files
// under dist/assets/, so the same sources always give the same files and the
// server may cache assets forever. Run through `npm run build` (or `make console`).
import { build } from "esbuild";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

const out = "dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}/assets`, { recursive: true });

const result = await build({
  entryPoints: ["src/main.tsx"],
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["es2022"],
  minify: !process.env.CONSOLE_DEBUG, // CONSOLE_DEBUG=1 npm run build: readable stacks (do not commit that build)
  legalComments: "linked",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: `${out}/assets`,
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
});

let js = "", css = "";
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint === "src/main.tsx") js = basename(file);
  if (file.endsWith(".css") && meta.cssBundle === undefined && basename(file).startsWith("main-")) css = basename(file);
}
if (!js) throw new Error("no entry bundle in the metafile");
const cssEntry = Object.values(result.metafile.outputs).find((m) => m.entryPoint === "src/main.tsx")?.cssBundle;
if (cssEntry) css = basename(cssEntry);

writeFileSync(`${out}/index.html`, `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Multicontact console</title>
${css ? `<link rel="stylesheet" href="assets/${css}">\n` : ""}<script type="module" src="assets/${js}"></script>
</head>
<body>
<div id="app"><p class="boot">Loading the console…</p></div>
<noscript>The Multicontact console needs JavaScript.</noscript>
</body>
</html>
`);

for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  console.log(`${file.padEnd(40)} ${(meta.bytes / 1024).toFixed(1)} KiB`);
}
