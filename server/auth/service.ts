// Operators' tokens and the audit log over the store: create, list, revoke, authenticate; the first admin
// token at first start; audit entries written and read. One transaction each.
import type { Logger } from "pino";
import type { AuditEntry, CreatedToken, Role, TokenInfo } from "../../protocol/index.js";
import type { MachineCredentialRecord, Store, TokenRecord } from "../db/rows.js";
import { ServerError } from "../errors.js";
import { writeSecretFile } from "./secret-file.js";
import { newToken, parseCredential, parseToken, secretMatches, tokenRecord } from "./tokens.js";

/** A token is marked used at most this often: a write per request would cost every poll a transaction. */
const TOUCH_EVERY_MS = 60_000;

export function tokenInfo(record: TokenRecord): TokenInfo {
  return {
    id: record.id,
    name: record.name,
    role: record.role,
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    lastUsedAt: record.lastUsedAt,
    revokedAt: record.revokedAt,
  };
}

/** What the operator is shown once, where the first admin token was made (the server's first start, init). */
export function firstAdminNotice(token: string, file: string): string {
  return (
    `first admin token (shown once; also in ${file}, mode 0600):\n  ${token}\n` +
    `  use it: export BOOTWRIGHT_TOKEN=$(cat ${file}), or bootwright login\n`
  );
}

export class AuthService {
  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  async create(name: string, role: Role, createdBy: string | null, when: Date): Promise<CreatedToken> {
    const { token, record } = newToken(name, role, createdBy, when.toISOString());
    await this.store.transaction((rows) => rows.tokens.insert(record));
    return { token, info: tokenInfo(record) };
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.store.read((rows) => rows.tokens.list())).map(tokenInfo);
  }

  revoke(id: string, when: Date): Promise<boolean> {
    return this.store.transaction((rows) => rows.tokens.revoke(id, when.toISOString()));
  }

  /** The live token this text names, or undefined (unknown, malformed, wrong secret, revoked). */
  async authenticate(text: string, when: Date): Promise<TokenRecord | undefined> {
    const parsed = parseToken(text);
    if (!parsed) return undefined;
    const record = await this.store.read((rows) => rows.tokens.get(parsed.id));
    if (!record || record.revokedAt !== null || !secretMatches(record, parsed.secret)) return undefined;
    const last = record.lastUsedAt === null ? 0 : Date.parse(record.lastUsedAt);
    // Marking it used is bookkeeping: a store that cannot take the write (a full disk) must not turn a
    // valid token away.
    if (when.getTime() - last > TOUCH_EVERY_MS)
      await this.store
        .transaction((rows) => rows.tokens.touch(record.id, when.toISOString()))
        .catch((err: unknown) => {
          this.log.warn({ err, token: record.id }, "token use not recorded");
        });
    return record;
  }

  /**
   * The live machine credential this text names, or undefined. The first use of an installed OS's new
   * credential retires the ones before it (the rotation at call home completes only once the OS has it).
   */
  async authenticateMachine(text: string, when: Date): Promise<MachineCredentialRecord | undefined> {
    const parsed = parseCredential(text);
    if (parsed?.kind !== "machine") return undefined;
    const record = await this.store.read((rows) => rows.credentials.get(parsed.id));
    if (!record || record.revokedAt !== null || !secretMatches(record, parsed.secret)) return undefined;
    if (record.scope === "os" && record.firstUsedAt === null) {
      const at = when.toISOString();
      await this.store.transaction(async (rows) => {
        await rows.credentials.markUsed(record.id, at);
        await rows.credentials.revokeOthers(record.machineId, "os", record.id, at);
      });
    }
    return record;
  }

  /**
   * At start: when no admin token is live, makes one: from `given` (BOOTWRIGHT_ADMIN_TOKEN, for unattended
   * installs) or a new one, written 0600 to `file`. Returns the new token's text when it made one here.
   */
  async ensureAdmin(file: string, given: string | undefined, when: Date): Promise<string | undefined> {
    if (await this.store.read((rows) => rows.tokens.hasLiveAdmin())) return undefined;
    const at = when.toISOString();
    if (given !== undefined) {
      const parts = parseToken(given);
      if (!parts)
        throw new ServerError(
          "BOOTWRIGHT_ADMIN_TOKEN is not a bootwright token (bwo_<32 hex>.<43 base64url>)",
        );
      await this.store.transaction((rows) =>
        rows.tokens.insert(tokenRecord(parts, "initial-admin", "admin", null, at)),
      );
      return undefined; // its owner has it already: nothing to show or write
    }
    const { token, record } = newToken("initial-admin", "admin", null, at);
    await this.store.transaction((rows) => rows.tokens.insert(record));
    writeSecretFile(file, `${token}\n`);
    return token;
  }

  audit(entry: Omit<AuditEntry, "seq">): Promise<void> {
    return this.store.transaction((rows) => rows.audit.append(entry));
  }

  auditLog(query: { target?: string; since?: string; limit: number }): Promise<AuditEntry[]> {
    return this.store.read((rows) => rows.audit.list(query));
  }
}
