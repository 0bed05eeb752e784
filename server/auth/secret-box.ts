// Secrets at rest: BMC passwords and other drivers' secrets are sealed with AES-256-GCM under a key kept
// 0600 in the data directory (made at first start), so the store (SQLite file, PostgreSQL, a copy, a
// backup) never holds them in clear. Sealed text: `sealed:v1:<iv>:<tag>:<ciphertext>`, base64url.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { ServerError } from "../errors.js";
import { writeSecretFile } from "./secret-file.js";

const PREFIX = "sealed:v1:";

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** The key in `path`, made (32 random bytes, 0600, atomically) when there is none yet. */
  static openOrCreate(path: string): SecretBox {
    if (!existsSync(path)) writeSecretFile(path, randomBytes(32).toString("base64url"));
    const key = Buffer.from(readFileSync(path, "utf8").trim(), "base64url");
    if (key.length !== 32)
      throw new ServerError(`${path} is not a bootwright secret key (32 bytes, base64url)`);
    return new SecretBox(key);
  }

  /** A key that lives as long as the process (tests, tools that store no secret). */
  static ephemeral(): SecretBox {
    return new SecretBox(randomBytes(32));
  }

  static isSealed(text: string): boolean {
    return text.startsWith(PREFIX);
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `${PREFIX}${iv.toString("base64url")}:${cipher.getAuthTag().toString("base64url")}:${body.toString("base64url")}`;
  }

  /** The plaintext; text stored before sealing existed comes back as it is. */
  open(text: string): string {
    if (!SecretBox.isSealed(text)) return text;
    const [iv, tag, body] = text.slice(PREFIX.length).split(":");
    if (!iv || !tag || body === undefined) throw new ServerError("a sealed secret in the store is malformed");
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64url"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString(
        "utf8",
      );
    } catch (err) {
      throw new ServerError("a sealed secret does not open with this data directory's key (secret.key)", {
        cause: err,
      });
    }
  }
}
