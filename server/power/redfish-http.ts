// HTTPS to a Redfish BMC: one connection pool per BMC that trusts exactly what `power set` recorded (the
// leaf certificate's SHA-256, checked before a byte is written, or an operator's CA), JSON requests
// parsed with zod, and the BMC's error bodies turned into errors that carry its own words.
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { connect, type TLSSocket } from "node:tls";
import { Agent, buildConnector, request } from "undici";
import type * as z from "zod";
import { BootwrightError, type FailureContext, type RedfishTls } from "../../protocol/index.js";
import { caFingerprint } from "../tls/certificates.js";
import { PowerError } from "./driver.js";
import { RedfishErrorBody } from "./redfish-schema.js";

/** One request to a BMC must not outlast this, whatever the caller's signal allows (BMCs are slow). */
const REQUEST_TIMEOUT_MS = 30_000;
const MESSAGE_CHARS = 600;

/** The BMC answered with an error status: its own messages, in order, in the message. */
export class BmcRefused extends BootwrightError<"bmc_refused"> {
  constructor(message: string, context: FailureContext<"bmc_refused">) {
    super("bmc_refused", message, context);
  }
}

export class BmcCertificateMismatch extends BootwrightError<"bmc_certificate_mismatch"> {
  constructor(context: FailureContext<"bmc_certificate_mismatch">) {
    super(
      "bmc_certificate_mismatch",
      `BMC ${context.target} offered certificate ${context.offered}, not the pinned ${context.pinned}: nothing was sent to it (power set again to trust a new certificate)`,
      context,
    );
  }
}

/** "sha256:<hex>" of a certificate's DER: the same form, and function, as the server's own CA pin. */
export function certificatePin(der: Buffer): string {
  return caFingerprint(new X509Certificate(der));
}

/**
 * The pin of the leaf certificate the BMC at `url` offers now, for trust on first use at `power set`.
 * The connection is looked at, not trusted: it is closed before anything is written.
 */
export async function offeredCertificatePin(url: string, signal: AbortSignal): Promise<string> {
  const { hostname, port } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, "");
  const socket = connect({
    host,
    port: Number(port || 443),
    ...(isIP(host) ? {} : { servername: host }),
    rejectUnauthorized: false,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const stop = (): void => {
        reject(new PowerError(`BMC ${url}: no TLS handshake in time`, { target: url }));
      };
      const both = AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
      both.addEventListener("abort", stop, { once: true });
      socket.once("secureConnect", () => {
        both.removeEventListener("abort", stop);
        resolve();
      });
      socket.once("error", (err: Error) => {
        both.removeEventListener("abort", stop);
        reject(new PowerError(`BMC ${url}: ${err.message}`, { target: url }, { cause: err }));
      });
    });
    // Node's types say there is always one; with no certificate it returns an empty object.
    const raw = socket.getPeerCertificate().raw as Buffer | undefined;
    if (!raw) throw new PowerError(`BMC ${url} offered no certificate`, { target: url });
    return certificatePin(raw);
  } finally {
    socket.destroy();
  }
}

/**
 * The connection pool for one BMC. With a pin, the chain is not verified (a BMC's self-signed certificate
 * never would be): the leaf's SHA-256 must equal the pin, checked when the handshake ends and before
 * undici writes the request. With a CA, Node's usual verification: the chain and the name in the URL.
 */
function bmcAgent(target: string, tls: RedfishTls): Agent {
  if ("ca" in tls) return new Agent({ connect: { ca: tls.ca, timeout: REQUEST_TIMEOUT_MS } });
  // No TLS session resumption: a resumed connection shows no peer certificate to check.
  const base = buildConnector({
    rejectUnauthorized: false,
    timeout: REQUEST_TIMEOUT_MS,
    maxCachedSessions: 0,
  });
  return new Agent({
    connect: (options, callback) => {
      base(options, (err, socket) => {
        if (err) {
          callback(err, null);
          return;
        }
        const raw = (socket as TLSSocket).getPeerCertificate().raw as Buffer | undefined;
        const offered = raw ? certificatePin(raw) : "none";
        if (offered === tls.pin) {
          callback(null, socket);
          return;
        }
        socket.destroy();
        callback(new BmcCertificateMismatch({ target, pinned: tls.pin, offered }), null);
      });
    },
  });
}

export interface BmcAnswer<T> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

/** JSON over HTTPS to one BMC; every answer parsed with the caller's schema. */
export class RedfishHttp {
  private readonly agent: Agent;
  /** Sent with every request: X-Auth-Token once a session is open, else Basic credentials. */
  private auth: Record<string, string> = {};

  constructor(
    /** https://host[:port], no trailing slash. */
    readonly baseUrl: string,
    tls: RedfishTls,
  ) {
    this.agent = bmcAgent(baseUrl, tls);
  }

  authenticate(headers: Record<string, string>): void {
    this.auth = headers;
  }

  /** `path` is absolute on the BMC (/redfish/v1/…). Throws BmcRefused on an error status. */
  async call<T>(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    schema: z.ZodType<T>,
    signal: AbortSignal,
    body?: unknown,
  ): Promise<BmcAnswer<T>> {
    const both = AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
    let answer: Awaited<ReturnType<typeof request>>;
    try {
      answer = await request(`${this.baseUrl}${path}`, {
        method,
        dispatcher: this.agent,
        signal: both,
        headers: {
          accept: "application/json",
          "odata-version": "4.0",
          ...this.auth,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      if (err instanceof BmcCertificateMismatch) throw err;
      const why = both.aborted ? "no answer in time" : err instanceof Error ? err.message : String(err);
      throw new PowerError(
        `BMC ${this.baseUrl}: ${method} ${path}: ${why}`,
        { target: this.baseUrl, command: [method, path] },
        { cause: err },
      );
    }
    const text = await answer.body.text();
    if (answer.statusCode >= 400) throw this.refusal(method, path, answer.statusCode, text);
    let json: unknown = {};
    if (text.trim() !== "") {
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new PowerError(
          `BMC ${this.baseUrl}: ${method} ${path} answered HTTP ${answer.statusCode} with a body that is not JSON`,
          { target: this.baseUrl, command: [method, path] },
          { cause: err },
        );
      }
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new PowerError(
        `BMC ${this.baseUrl}: ${method} ${path}: not the Redfish resource expected: ${parsed.error.issues
          .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
          .join("; ")
          .slice(0, MESSAGE_CHARS)}`,
        { target: this.baseUrl, command: [method, path] },
      );
    return { status: answer.statusCode, body: parsed.data, headers: answer.headers };
  }

  /** The BMC's own words from its error body (DSP0266 §9.4.4), or the status alone when it sent none. */
  private refusal(method: string, path: string, status: number, text: string): BmcRefused {
    let messageIds: string[] = [];
    let words: string[] = [];
    try {
      const body = RedfishErrorBody.safeParse(JSON.parse(text));
      if (body.success) {
        const { error } = body.data;
        const extended = error["@Message.ExtendedInfo"] ?? [];
        messageIds = [error.code, ...extended.map((info) => info.MessageId)].filter(
          (id): id is string => typeof id === "string",
        );
        words = extended.map((info) => info.Message).filter((m): m is string => typeof m === "string");
        if (words.length === 0 && error.message) words = [error.message];
      }
    } catch {
      // Not JSON (a proxy's HTML page, an empty 401): the status says what there is to say.
    }
    const said = words.length > 0 ? `: ${words.join(" ").slice(0, MESSAGE_CHARS)}` : "";
    return new BmcRefused(`BMC ${this.baseUrl} refused ${method} ${path}: HTTP ${status}${said}`, {
      target: this.baseUrl,
      method,
      path,
      status,
      messageIds,
    });
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
