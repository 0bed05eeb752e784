// Builds the operator console (server/console/: TypeScript and Preact) with esbuild on the first request
// for it and keeps it in memory with its gzip and brotli forms: no build step to forget, the page always
// matches the server that serves it, and nothing comes from anywhere else (it works offline).
import { createHash } from "node:crypto";
import { basename, join, resolve } from "node:path";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";
import { build } from "esbuild";

const CONSOLE_DIR = resolve(import.meta.dirname, "console");

/** Where the page's files are served (console-routes.ts); `/` serves the page itself. */
export const CONSOLE_PREFIX = "/console/";

export interface ConsoleAsset {
  contentType: string;
  body: Buffer;
  gzip: Buffer;
  brotli: Buffer;
  etag: string;
}

export interface ConsoleBundle {
  /** The page (index.html), which names the hashed script and style sheet. */
  page: ConsoleAsset;
  /** File name (app-<hash>.js, app-<hash>.css) → asset. */
  files: ReadonlyMap<string, ConsoleAsset>;
}

const CONTENT_TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  html: "text/html; charset=utf-8",
};

async function asset(name: string, body: Buffer): Promise<ConsoleAsset> {
  const extension = name.slice(name.lastIndexOf(".") + 1);
  const [gzipped, brotli] = await Promise.all([
    promisify(gzip)(body, { level: 9 }),
    promisify(brotliCompress)(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
  ]);
  return {
    contentType: CONTENT_TYPES[extension] ?? "application/octet-stream",
    body,
    gzip: gzipped,
    brotli,
    etag: `"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"`,
  };
}

function pageHtml(script: string, style: string): string {
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>bootwright console</title>",
    // An empty icon: no request for /favicon.ico (a 404 in the page's console).
    '<link rel="icon" href="data:,">',
    `<link rel="stylesheet" href="${CONSOLE_PREFIX}${style}">`,
    "</head>",
    '<body><div id="app"></div>',
    `<script type="module" src="${CONSOLE_PREFIX}${script}"></script>`,
    "</body>",
    "</html>",
  ].join("\n");
}

/** One esbuild run: the page's script and style sheet, minified, named by their content's hash. */
export async function buildConsole(): Promise<ConsoleBundle> {
  const result = await build({
    entryPoints: [join(CONSOLE_DIR, "main.tsx")],
    bundle: true,
    write: false,
    outdir: "/console-out",
    entryNames: "app-[hash]",
    format: "esm",
    target: "es2022",
    platform: "browser",
    minify: true,
    legalComments: "none",
    jsx: "automatic",
    jsxImportSource: "preact",
    tsconfig: join(CONSOLE_DIR, "tsconfig.json"),
    logLevel: "silent",
  });
  const files = new Map<string, ConsoleAsset>();
  for (const output of result.outputFiles)
    files.set(basename(output.path), await asset(output.path, Buffer.from(output.contents)));
  const script = [...files.keys()].find((name) => name.endsWith(".js"));
  const style = [...files.keys()].find((name) => name.endsWith(".css"));
  if (!script || !style) throw new Error(`the console build made ${[...files.keys()].join(", ")}`);
  return { page: await asset("index.html", Buffer.from(pageHtml(script, style))), files };
}

/** The console, built once per server on first use (a failed build is tried again on the next request). */
export class ConsoleAssets {
  private built: Promise<ConsoleBundle> | undefined;

  get(): Promise<ConsoleBundle> {
    this.built ??= buildConsole().catch((err: unknown) => {
      this.built = undefined;
      throw err;
    });
    return this.built;
  }
}
