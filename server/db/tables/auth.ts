// Operators' API tokens and machines' credentials (the hash of the secret, never the secret), and the
// audit log of operators' changes.
import * as z from "zod";
import { AuditEntry, Role } from "../../../protocol/index.js";
import type {
  AuditRows,
  MachineCredentialRecord,
  MachineCredentialRows,
  TokenRecord,
  TokenRows,
} from "../rows.js";
import type { Sql, SqlValue } from "../sql.js";

const TokenRow = z.object({
  id: z.string(),
  name: z.string(),
  role: Role,
  secret_hash: z.string(),
  created_at: z.string(),
  created_by: z.string().nullable(),
  last_used_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});

function toToken(raw: unknown): TokenRecord {
  const row = TokenRow.parse(raw);
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    createdBy: row.created_by,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export class TokenTable implements TokenRows {
  constructor(private readonly sql: Sql) {}

  async insert(t: TokenRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO api_tokens (id, name, role, secret_hash, created_at, created_by, last_used_at, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [t.id, t.name, t.role, t.secretHash, t.createdAt, t.createdBy, t.lastUsedAt, t.revokedAt],
    );
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    const row = await this.sql.get("SELECT * FROM api_tokens WHERE id = ?", [id]);
    return row === undefined ? undefined : toToken(row);
  }

  async list(): Promise<TokenRecord[]> {
    return (await this.sql.all("SELECT * FROM api_tokens ORDER BY created_at, id")).map(toToken);
  }

  async revoke(id: string, at: string): Promise<boolean> {
    return (
      (await this.sql.run("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [
        at,
        id,
      ])) > 0
    );
  }

  async touch(id: string, at: string): Promise<void> {
    await this.sql.run("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [at, id]);
  }

  async hasLiveAdmin(): Promise<boolean> {
    const row = await this.sql.get(
      "SELECT id FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1",
    );
    return row !== undefined;
  }
}

const AuditRow = z.object({
  seq: z.coerce.number(),
  at: z.string(),
  token_id: z.string(),
  token_name: z.string(),
  role: Role,
  action: z.string(),
  target: z.string().nullable(),
  details_json: z.string(),
  source: z.string().nullable(),
});

export class AuditTable implements AuditRows {
  constructor(private readonly sql: Sql) {}

  async append(e: Omit<AuditEntry, "seq">): Promise<void> {
    await this.sql.run(
      `INSERT INTO audit_log (at, token_id, token_name, role, action, target, details_json, source)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [e.at, e.tokenId, e.tokenName, e.role, e.action, e.target, JSON.stringify(e.details), e.source],
    );
  }

  async list(query: { target?: string; since?: string; limit: number }): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (query.target !== undefined) {
      where.push("target = ?");
      params.push(query.target);
    }
    if (query.since !== undefined) {
      where.push("at >= ?");
      params.push(query.since);
    }
    const rows = await this.sql.all(
      `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ?`,
      [...params, query.limit],
    );
    return rows
      .map((raw) => {
        const row = AuditRow.parse(raw);
        return AuditEntry.parse({
          seq: row.seq,
          at: row.at,
          tokenId: row.token_id,
          tokenName: row.token_name,
          role: row.role,
          action: row.action,
          target: row.target,
          details: JSON.parse(row.details_json) as unknown,
          source: row.source,
        });
      })
      .reverse();
  }
}

const CredentialRow = z.object({
  id: z.string(),
  machine_id: z.string(),
  scope: z.enum(["loader", "os"]),
  secret_hash: z.string(),
  created_at: z.string(),
  first_used_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});

export class MachineCredentialTable implements MachineCredentialRows {
  constructor(private readonly sql: Sql) {}

  async insert(c: MachineCredentialRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO machine_credentials (id, machine_id, scope, secret_hash, created_at, first_used_at, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [c.id, c.machineId, c.scope, c.secretHash, c.createdAt, c.firstUsedAt, c.revokedAt],
    );
  }

  async get(id: string): Promise<MachineCredentialRecord | undefined> {
    const raw = await this.sql.get("SELECT * FROM machine_credentials WHERE id = ?", [id]);
    if (raw === undefined) return undefined;
    const row = CredentialRow.parse(raw);
    return {
      id: row.id,
      machineId: row.machine_id,
      scope: row.scope,
      secretHash: row.secret_hash,
      createdAt: row.created_at,
      firstUsedAt: row.first_used_at,
      revokedAt: row.revoked_at,
    };
  }

  async revokeOthers(
    machineId: string,
    scope: MachineCredentialRecord["scope"],
    keep: string | null,
    at: string,
  ): Promise<number> {
    return this.sql.run(
      `UPDATE machine_credentials SET revoked_at = ?
       WHERE machine_id = ? AND scope = ? AND revoked_at IS NULL AND id <> ?`,
      [at, machineId, scope, keep ?? ""],
    );
  }

  async markUsed(id: string, at: string): Promise<void> {
    await this.sql.run(
      "UPDATE machine_credentials SET first_used_at = ? WHERE id = ? AND first_used_at IS NULL",
      [at, id],
    );
  }
}
