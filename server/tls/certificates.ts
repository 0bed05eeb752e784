// The server's TLS identity. `--tls auto`: on first start a CA and a server certificate signed by it are
// made with Debian's openssl (EC P-256) and kept in <dataDir>/tls/ (keys 0600, the directory 0700); the
// CA stays for good (machines pin its fingerprint), the server certificate is made again when the names
// it must carry change (a new advertised address). `--tls-cert/--tls-key`: the site's own chain, whose
// last certificate is the one machines pin. Either way machines learn the CA's SHA-256 fingerprint from
// their kernel command line and refuse a server whose chain does not hold it (agent/shared/pinned-tls.ts).
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { BootwrightError, type FailureContext } from "../../protocol/index.js";

export interface ServerTls {
  key: Buffer;
  /** The server's certificate, then the chain up to and including the pinned CA (sent whole). */
  chain: Buffer;
  /** "sha256:<hex>" of the CA certificate's DER: what the loader's kernel command line carries. */
  caFingerprint: string;
}

export class TlsSetupError extends BootwrightError<"tls_setup"> {
  constructor(message: string, context: FailureContext<"tls_setup"> = {}, options?: ErrorOptions) {
    super("tls_setup", message, context, options);
  }
}

/** The pin of a CA certificate: SHA-256 of its DER, as the loader compares it. */
export function caFingerprint(ca: X509Certificate): string {
  return `sha256:${ca.fingerprint256.replaceAll(":", "").toLowerCase()}`;
}

/** The certificates of a PEM bundle, in order. */
export function pemCertificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new X509Certificate(block),
  );
}

/** The names a server certificate carries: each advertised host, this host's name, and loopback. */
export function subjectAltNames(hosts: readonly string[]): string[] {
  const names = new Set<string>(["IP:127.0.0.1", "DNS:localhost"]);
  for (const host of hosts) {
    const bare = host.replace(/^\[|\]$/g, "");
    names.add(isIP(bare) ? `IP:${bare}` : `DNS:${bare}`);
  }
  return [...names].sort();
}

const run = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run("openssl", args, { cwd, timeout: 60_000 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? "";
    throw new TlsSetupError(
      `openssl ${args[0] ?? ""} failed: ${stderr || (err instanceof Error ? err.message : String(err))}`,
      { step: args[0] ?? "" },
      { cause: err },
    );
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** Makes the CA (once) and a server certificate for `hosts` into `dir`, atomically (temp dir, rename). */
async function makeCertificates(dir: string, hosts: readonly string[]): Promise<void> {
  const work = mkdtempSync(`${dir}.tmp-`); // 0700: the keys are never readable by others, even here
  try {
    const haveCa = existsSync(join(dir, "ca.pem")) && existsSync(join(dir, "ca.key"));
    if (haveCa) {
      for (const file of ["ca.pem", "ca.key"])
        writeFileSync(join(work, file), readFileSync(join(dir, file)), { mode: 0o600 });
    } else {
      await openssl(
        ["req", "-x509", ...EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650"]
          .concat(["-subj", "/CN=bootwright CA", "-addext", "basicConstraints=critical,CA:TRUE"])
          .concat(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
        work,
      );
    }
    const ext = [
      `subjectAltName=${subjectAltNames(hosts).join(",")}`,
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
    ].join("\n");
    writeFileSync(join(work, "server.ext"), `${ext}\n`);
    await openssl(
      ["req", "-new", ...EC, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=bootwright server"],
      work,
    );
    await openssl(
      ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"].concat([
        "-out",
        "server.pem",
        "-days",
        "825",
        "-extfile",
        "server.ext",
      ]),
      work,
    );
    for (const file of ["server.csr", "server.ext", "ca.srl"]) rmSync(join(work, file), { force: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}

/** Whether the server certificate in `dir` carries exactly the names `hosts` need. */
function namesMatch(dir: string, hosts: readonly string[]): boolean {
  const file = join(dir, "server.pem");
  if (!existsSync(file)) return false;
  const have = (pemCertificates(readFileSync(file, "utf8"))[0]?.subjectAltName ?? "")
    .split(", ")
    .map((name) => name.replace(/^IP Address:/, "IP:"))
    .sort();
  return have.join(",") === subjectAltNames(hosts).join(",");
}

/** `--tls auto`: the CA and server certificate in `dir`, made or renewed as needed. */
export async function autoTls(dir: string, hosts: readonly string[]): Promise<ServerTls> {
  mkdirSync(join(dir, ".."), { recursive: true });
  if (!namesMatch(dir, hosts)) await makeCertificates(dir, hosts);
  const ca = readFileSync(join(dir, "ca.pem"));
  return {
    key: readFileSync(join(dir, "server.key")),
    chain: Buffer.concat([readFileSync(join(dir, "server.pem")), ca]),
    caFingerprint: caFingerprint(new X509Certificate(ca)),
  };
}

/** `--tls-cert/--tls-key`: the site's chain (server certificate first); the last one is pinned. */
export function siteTls(certFile: string, keyFile: string): ServerTls {
  let pem: string;
  let key: Buffer;
  try {
    pem = readFileSync(certFile, "utf8");
    key = readFileSync(keyFile);
  } catch (err) {
    throw new TlsSetupError(
      `cannot read the TLS certificate or key: ${err instanceof Error ? err.message : String(err)}`,
      { file: certFile },
      { cause: err },
    );
  }
  const certificates = pemCertificates(pem);
  const top = certificates.at(-1);
  if (!top) throw new TlsSetupError(`${certFile} holds no PEM certificate`, { file: certFile });
  if (certificates.length === 1)
    throw new TlsSetupError(
      `${certFile} holds only the server's certificate: append the CA that issued it (machines pin that CA)`,
      { file: certFile },
    );
  return { key, chain: Buffer.from(pem), caFingerprint: caFingerprint(top) };
}
