// Credentials: operators' API tokens `bwo_<id>.<secret>` and machines' `bwm_<id>.<secret>`, 128 bits
// of public id and 256 bits of secret from the OS's random source. Only the secret's SHA-256 is stored: the secret is random, so a slow password hash would add
// nothing but latency to every request. Compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Role } from "../../protocol/index.js";
import type { MachineCredentialRecord, TokenRecord } from "../db/rows.js";

const PREFIX = "bwo_";
const MACHINE_PREFIX = "bwm_";
const CREDENTIAL = /^(bwo_|bwm_)([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/;

function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** What the store keeps of a token: its id, what it may do, its secret's hash. */
export function tokenRecord(
  parts: { id: string; secret: string },
  name: string,
  role: Role,
  createdBy: string | null,
  at: string,
): TokenRecord {
  return {
    id: parts.id,
    name,
    role,
    secretHash: hashSecret(parts.secret),
    createdAt: at,
    createdBy,
    lastUsedAt: null,
    revokedAt: null,
  };
}

/** A new token: its text (shown once) and the record the store keeps. */
export function newToken(
  name: string,
  role: Role,
  createdBy: string | null,
  at: string,
): { token: string; record: TokenRecord } {
  const parts = { id: randomBytes(16).toString("hex"), secret: randomBytes(32).toString("base64url") };
  return {
    token: `${PREFIX}${parts.id}.${parts.secret}`,
    record: tokenRecord(parts, name, role, createdBy, at),
  };
}

/** A credential's kind, id and secret, or undefined when the text is not one of ours. */
export function parseCredential(
  text: string,
): { kind: "operator" | "machine"; id: string; secret: string } | undefined {
  const match = CREDENTIAL.exec(text.trim());
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  return { kind: match[1] === PREFIX ? "operator" : "machine", id: match[2], secret: match[3] };
}

/** An operator's token's id and secret, or undefined when the text is not one. */
export function parseToken(text: string): { id: string; secret: string } | undefined {
  const parsed = parseCredential(text);
  return parsed?.kind === "operator" ? { id: parsed.id, secret: parsed.secret } : undefined;
}

/** A new machine credential: its text (sent once, to the machine) and what the store keeps. */
export function newMachineCredential(
  machineId: string,
  scope: MachineCredentialRecord["scope"],
  at: string,
): { credential: string; record: MachineCredentialRecord } {
  const id = randomBytes(16).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return {
    credential: `${MACHINE_PREFIX}${id}.${secret}`,
    record: {
      id,
      machineId,
      scope,
      secretHash: hashSecret(secret),
      createdAt: at,
      firstUsedAt: null,
      revokedAt: null,
    },
  };
}

/** Whether `secret` is the one whose hash the record keeps. */
export function secretMatches(record: { secretHash: string }, secret: string): boolean {
  const given = Buffer.from(hashSecret(secret), "hex");
  const kept = Buffer.from(record.secretHash, "hex");
  return given.length === kept.length && timingSafeEqual(given, kept);
}

/** The bearer token of an Authorization header, if it has one. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}
