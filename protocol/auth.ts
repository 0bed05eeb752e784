// Operators and their credentials (issue 17): API tokens with a role, and the audit log of what they
// changed. A token is shown once, when it is made; the server keeps only its hash.
import * as z from "zod";

/** viewer: read; operator: expect, maintenance, power, approve; admin: policy, images, tokens, settings. */
export const Role = z.enum(["viewer", "operator", "admin"]);
export type Role = z.infer<typeof Role>;

/** Each role may do what the ones before it may. */
export const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 1, operator: 2, admin: 3 };

export const TokenInfo = z.strictObject({
  /** The token's public half: `bwo_<id>.<secret>`. */
  id: z.string(),
  name: z.string(),
  role: Role,
  createdAt: z.string(),
  /** Which token made this one (null for the first admin token the server made itself). */
  createdBy: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type TokenInfo = z.infer<typeof TokenInfo>;

export const TokenList = z.strictObject({ tokens: z.array(TokenInfo) });
export type TokenList = z.infer<typeof TokenList>;

export const CreateToken = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, "letters, digits and . _ @ - only"),
  role: Role,
});
export type CreateToken = z.infer<typeof CreateToken>;

/** The answer to a token's creation: the only time its secret is shown. */
export const CreatedToken = z.strictObject({ token: z.string(), info: TokenInfo });
export type CreatedToken = z.infer<typeof CreatedToken>;

export const AuditEntry = z.strictObject({
  seq: z.number().int(),
  at: z.string(),
  /** Who: the token's id and name and its role then. */
  tokenId: z.string(),
  tokenName: z.string(),
  role: Role,
  /** What: the route, e.g. "PUT /v1/machines/:id/expected". */
  action: z.string(),
  /** On what: a machine id, an image name, a token id… (null when the route names none). */
  target: z.string().nullable(),
  /** The request's body, secrets left out, and the state before and after where it is small. */
  details: z.record(z.string(), z.unknown()),
  /** From where: the client's address. */
  source: z.string().nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditLog = z.strictObject({ entries: z.array(AuditEntry) });
export type AuditLog = z.infer<typeof AuditLog>;

/** GET /v1/whoami: the token that made the request, as the page shows it and hides what its role may not do. */
export const Whoami = z.strictObject({ id: z.string(), name: z.string(), role: Role });
export type Whoami = z.infer<typeof Whoami>;
