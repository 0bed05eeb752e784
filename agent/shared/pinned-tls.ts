// TLS pinned to the CA the kernel command line names (bootwright.ca=sha256:<hex>), the way kubeadm joins
// with a CA hash: the loader opens one TLS connection without trusting it, looks in the chain the server
// sends for a certificate with that fingerprint, and from then on trusts that one certificate alone, as
// the CA of every connection this process makes (the loader's own client, http-client.ts, and undici's
// global dispatcher, which its agents' fetch and the image stream share). Nothing is sent before the check.
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { connect, type DetailedPeerCertificate } from "node:tls";
import { BootwrightError, type FailureContext } from "../../protocol/index.js";
import { trustOnlyCa } from "./http-client.js";

const CONNECT_TIMEOUT_MS = 15_000;

export class TlsPinMismatch extends BootwrightError<"tls_pin_mismatch"> {
  constructor(message: string, context: FailureContext<"tls_pin_mismatch">) {
    super("tls_pin_mismatch", message, context);
  }
}

/** "sha256:<hex>" of a certificate's DER, as the server prints it and the command line carries it. */
export function certificateFingerprint(der: Buffer): string {
  return `sha256:${new X509Certificate(der).fingerprint256.replaceAll(":", "").toLowerCase()}`;
}

/**
 * The next certificate up. Node's types say there always is one; at run time a chain that does not end
 * in a self-signed CA stops with none, and a self-signed CA names itself.
 */
function issuerOf(cert: DetailedPeerCertificate): DetailedPeerCertificate | undefined {
  return (cert as { issuerCertificate?: DetailedPeerCertificate }).issuerCertificate;
}

/** The certificates the server sends, its own first, each once (a self-signed CA is its own issuer). */
async function offeredChain(url: URL): Promise<DetailedPeerCertificate[]> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const socket = connect({
    host,
    port: Number(url.port || 443),
    ...(isIP(host) ? {} : { servername: host }),
    // Not trusted, only looked at: the pin decides below, and nothing is written on this connection.
    rejectUnauthorized: false,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no TLS handshake with ${url.host} within ${CONNECT_TIMEOUT_MS / 1000} s`));
      }, CONNECT_TIMEOUT_MS);
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("error", (err: Error) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const chain: DetailedPeerCertificate[] = [];
    let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
    while (cert?.raw && !chain.includes(cert)) {
      chain.push(cert);
      cert = issuerOf(cert);
    }
    return chain;
  } finally {
    socket.destroy();
  }
}

/**
 * Checks that the server at `serverUrl` sends a certificate with the `pinned` fingerprint and makes it
 * the only CA of this process's connections. Returns it (PEM), for what the install leaves behind (the
 * installed OS's call home pins it too). Throws TlsPinMismatch naming what the server offered.
 */
export async function pinServerCa(serverUrl: string, pinned: string): Promise<string> {
  const url = new URL(serverUrl);
  const chain = await offeredChain(url);
  const offered = chain.map((cert) => certificateFingerprint(cert.raw));
  const index = offered.indexOf(pinned.toLowerCase());
  const ca = chain[index];
  if (index === -1 || !ca)
    throw new TlsPinMismatch(
      `the server at ${url.host} is not the one this machine was sent to: its certificates are ` +
        `${offered.join(", ") || "none"}, none is the pinned CA ${pinned}`,
      { server: url.host, pinned, offered },
    );
  const pem = new X509Certificate(ca.raw).toString();
  // Verification proper (the chain up to this CA, the name or address in the URL) from here on, in the
  // loader's own client and in undici's (the image stream, agents' fetch). undici is imported only now,
  // for a pinned server: evaluating it at the start cost every loader boot ~0.75 s under TCG.
  trustOnlyCa(pem);
  const { trustOnly } = await import("./trust-only.js");
  trustOnly(pem);
  return pem;
}
