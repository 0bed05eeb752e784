// CLI for trust: `bootwright login` (keeps a token for a server, read from stdin), `token create|list|
// revoke` (admin), `audit` (operator). A token is never taken from argv: `ps` would show it.
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import {
  AuditLog,
  CreatedToken,
  Role,
  TokenList,
  type AuditEntry,
  type TokenInfo,
} from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { getJson, print, requestJson, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { saveToken } from "./credentials.js";
import { formatTable } from "./format.js";

export function formatTokens(tokens: readonly TokenInfo[]): string {
  if (tokens.length === 0) return "no tokens";
  return formatTable(
    ["ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"],
    tokens.map((t) => [t.id, t.name, t.role, t.createdAt, t.lastUsedAt ?? "-", t.revokedAt ?? "-"]),
  );
}

export function formatAudit(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return "no changes recorded";
  return formatTable(
    ["AT", "WHO", "ROLE", "ACTION", "TARGET", "FROM", "DETAILS"],
    entries.map((e) => [
      e.at,
      `${e.tokenName} (${e.tokenId.slice(0, 8)})`,
      e.role,
      e.action,
      e.target ?? "-",
      e.source ?? "-",
      JSON.stringify(e.details),
    ]),
  );
}

async function readTokenFromStdin(): Promise<string> {
  const lines = createInterface({
    input: process.stdin,
    output: process.stderr,
    terminal: process.stdin.isTTY,
  });
  try {
    return (await lines.question(process.stdin.isTTY ? "API token: " : "")).trim();
  } finally {
    lines.close();
  }
}

export function addAuthCommands(program: Command): void {
  program
    .command("login")
    .description("keep an API token for a server (read from stdin, never from argv) in ~/.config/bootwright")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: { server?: string }) => {
      const server = clientServerUrl(opts.server);
      const token = await readTokenFromStdin();
      if (!token) throw new Error("no token given on stdin");
      const answer = await fetch(`${server}/v1/machines`, { headers: { authorization: `Bearer ${token}` } });
      if (!answer.ok) throw new Error(`${server} refused the token (HTTP ${answer.status}): not saved`);
      console.log(`token for ${server} saved in ${saveToken(server, token)}`);
    });

  const token = program.command("token").description("API tokens for operators (admin)");
  token
    .command("create")
    .description("make a token; its secret is printed once")
    .requiredOption("--role <role>", `one of ${Role.options.join(", ")}`)
    .requiredOption("--name <name>", "who or what it is for")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions & { role: string; name: string }) => {
      const made = CreatedToken.parse(
        await requestJson(`${clientServerUrl(opts.server)}/v1/tokens`, {
          method: "POST",
          body: { name: opts.name, role: Role.parse(opts.role) },
        }),
      );
      print(
        opts,
        made,
        () => `${made.token}\n(token ${made.info.id}, ${made.info.role}; shown once: keep it now)`,
      );
    });
  token
    .command("list")
    .description("every token: id, name, role, last use, revocation")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions) => {
      const list = TokenList.parse(await getJson(`${clientServerUrl(opts.server)}/v1/tokens`));
      print(opts, list, () => formatTokens(list.tokens));
    });
  token
    .command("revoke")
    .description("revoke a token at once")
    .argument("<id>", "the token's id (token list)")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (id: string, opts: ClientOptions) => {
      const answer = await requestJson(
        `${clientServerUrl(opts.server)}/v1/tokens/${encodeURIComponent(id)}`,
        {
          method: "DELETE",
        },
      );
      print(opts, answer, () => `revoked ${id}`);
    });

  program
    .command("audit")
    .description("what operators changed: who, which token, what, when, from where")
    .option("--machine <id>", "changes to one machine")
    .option("--since <time>", "ISO 8601 time, e.g. 2026-12-01T00:00:00Z")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions & { machine?: string; since?: string }) => {
      const query = new URLSearchParams();
      if (opts.machine) query.set("machine", opts.machine);
      if (opts.since) query.set("since", new Date(opts.since).toISOString());
      const log = AuditLog.parse(
        await getJson(`${clientServerUrl(opts.server)}/v1/audit?${query.toString()}`),
      );
      print(opts, log, () => formatAudit(log.entries));
    });
}
