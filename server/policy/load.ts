// Reads a policy: YAML or JSON text → Policy, or every problem with its path and source line (pure
// parsePolicy), and the start-up path that reads a policy file (loadPolicyFile).
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import type * as z from "zod";
import { BootwrightError, Policy, type PolicyFormat, type PolicyIssue } from "../../protocol/index.js";

/** The yaml package's own default, named here: a policy repeats a block with an alias, not thousands. */
const MAX_ALIAS_COUNT = 100;

export type PolicyParse = { ok: true; policy: Policy } | { ok: false; issues: PolicyIssue[] };

/** A policy file that cannot be used: its problems, each with path and line. */
export class PolicyFileError extends BootwrightError<"invalid_policy_file"> {
  constructor(file: string, issues: readonly PolicyIssue[], options?: ErrorOptions) {
    super(
      "invalid_policy_file",
      `policy file ${file} is not valid:\n${formatPolicyIssues(issues, file)}`,
      { file, issues },
      options,
    );
  }

  get file(): string {
    return this.context.file;
  }
  get issues(): readonly PolicyIssue[] {
    return this.context.issues;
  }
}

/** "file:12:7 rules.3.match.0.fact: unknown fact …", one line per issue. */
export function formatPolicyIssues(issues: readonly PolicyIssue[], file = "policy"): string {
  return issues
    .map((issue) => {
      const where =
        issue.line === null
          ? file
          : `${file}:${issue.line}${issue.column === null ? "" : `:${issue.column}`}`;
      return `  ${where} ${issue.path}: ${issue.message}`;
    })
    .join("\n");
}

type Located = Pick<PolicyIssue, "line" | "column">;

/** The line and column of the node at `path`, or of its nearest ancestor that exists. */
function locate(doc: Document, lines: LineCounter, path: readonly PropertyKey[], key?: string): Located {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (!isNode(node) || !node.range) continue;
    let offset = node.range[0];
    // An unknown key: point at the key itself rather than at the object holding it.
    if (key !== undefined && n === path.length && isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && item.key.value === key);
      if (pair && isNode(pair.key) && pair.key.range) offset = pair.key.range[0];
    }
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  }
  return { line: null, column: null };
}

function lineOfOffset(source: string, offset: number): Located {
  const before = source.slice(0, Math.max(0, Math.min(offset, source.length)));
  const line = before.split("\n").length;
  return { line, column: before.length - before.lastIndexOf("\n") };
}

function schemaIssues(issues: readonly z.core.$ZodIssue[], doc: Document, lines: LineCounter): PolicyIssue[] {
  return issues.map((issue) => {
    const key = issue.code === "unrecognized_keys" ? issue.keys[0] : undefined;
    const path = issue.path.map(String).join(".") || "(root)";
    return {
      path: key === undefined ? path : `${path === "(root)" ? "" : `${path}.`}${key}`,
      ...locate(doc, lines, issue.path, key),
      message: issue.message,
    };
  });
}

/**
 * How deep a policy may nest, in flow brackets plus block indentation columns. A real one is a few levels
 * deep; the yaml parser recurses once per level, and a few thousand levels (10 KB of "[") run it into
 * the stack limit, where V8 may die compiling a regular expression (a fatal out-of-memory, not an
 * exception): the whole server would go down for one request.
 */
const MAX_NESTING = 100;

/** Where `source` first nests deeper than MAX_NESTING (an upper bound: brackets in strings count too). */
function tooDeep(source: string): Located | undefined {
  let flow = 0;
  const lines = source.split("\n");
  for (const [index, text] of lines.entries()) {
    // Leading blanks, and each block indicator on the line ("rules: - - - x", "? ", ": "), open a level.
    const block =
      (/^[ \t]*/.exec(text)?.[0].length ?? 0) + (text.match(/(?:^|[ \t])[-?:](?=[ \t]|$)/g)?.length ?? 0);
    if (block + flow > MAX_NESTING) return { line: index + 1, column: 1 };
    for (let col = 0; col < text.length; col++) {
      const c = text.charAt(col);
      if (c === "[" || c === "{") flow++;
      else if ((c === "]" || c === "}") && flow > 0) flow--;
      if (flow > MAX_NESTING) return { line: index + 1, column: col + 1 };
    }
  }
  return undefined;
}

/** Parses and validates; never throws on bad input. JSON must be strict JSON; YAML is YAML 1.2. */
export function parsePolicy(source: string, format: PolicyFormat): PolicyParse {
  const parsed = parseDocumentAs(Policy, source, format);
  return parsed.ok ? { ok: true, policy: parsed.value } : parsed;
}

/**
 * A YAML or JSON document checked against `schema`, or every problem with its path and source line: the
 * policy's reader, and the factory station file's (server/factory/station.ts).
 */
export function parseDocumentAs<T>(
  schema: z.ZodType<T>,
  source: string,
  format: PolicyFormat,
): { ok: true; value: T } | { ok: false; issues: PolicyIssue[] } {
  const deep = tooDeep(source);
  if (deep)
    return {
      ok: false,
      issues: [{ path: "(root)", ...deep, message: `nested more than ${MAX_NESTING} levels deep` }],
    };
  const lines = new LineCounter();
  // JSON is YAML 1.2 too: the YAML document of a JSON file gives the same node positions.
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  let value: unknown;
  if (format === "json") {
    try {
      value = JSON.parse(source);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const position = /position (\d+)/.exec(message)?.[1];
      return {
        ok: false,
        issues: [
          {
            path: "(root)",
            ...(position === undefined
              ? lineOfOffset(source, source.length)
              : lineOfOffset(source, Number(position))),
            message: `not valid JSON: ${message}`,
          },
        ],
      };
    }
  } else {
    if (doc.errors.length > 0)
      return {
        ok: false,
        issues: doc.errors.map((err) => {
          const { line, col } = lines.linePos(err.pos[0]);
          return {
            path: "(root)",
            line,
            column: col,
            message: `not valid YAML: ${err.message.split("\n")[0] ?? err.code}`,
          };
        }),
      };
    // maxAliasCount stops an alias bomb ("billion laughs": aliases of aliases, each level multiplying
    // the size) before it expands; the yaml package throws then, and that is the policy's fault.
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      return {
        ok: false,
        issues: [
          {
            path: "(root)",
            line: null,
            column: null,
            message: `not a usable YAML document: ${err instanceof Error ? err.message : String(err)}`,
          },
        ],
      };
    }
  }
  const parsed = schema.safeParse(value);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, issues: schemaIssues(parsed.error.issues, doc, lines) };
}

/** The format a file's name says: .json → json, .yaml / .yml → yaml. */
export function policyFormatOf(file: string): PolicyFormat | undefined {
  const ext = extname(file).toLowerCase();
  return ext === ".json" ? "json" : ext === ".yaml" || ext === ".yml" ? "yaml" : undefined;
}

/** Reads and validates a policy file (server start-up, CLI); throws PolicyFileError naming each problem. */
export function loadPolicyFile(file: string): { source: string; format: PolicyFormat; policy: Policy } {
  const format = policyFormatOf(file);
  if (!format)
    throw new PolicyFileError(file, [
      {
        path: "(file)",
        line: null,
        column: null,
        message: "name it .yaml, .yml or .json: the extension says the format",
      },
    ]);
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (err) {
    throw new PolicyFileError(
      file,
      [
        {
          path: "(file)",
          line: null,
          column: null,
          message: err instanceof Error ? err.message : String(err),
        },
      ],
      { cause: err },
    );
  }
  const parsed = parsePolicy(source, format);
  if (!parsed.ok) throw new PolicyFileError(file, parsed.issues);
  return { source, format, policy: parsed.policy };
}
