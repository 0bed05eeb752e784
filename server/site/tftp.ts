// A read-only TFTP server (RFC 1350, options per RFC 2347: blksize RFC 2348, timeout and tsize RFC 2349):
// how PXE firmware, iPXE, shim and GRUB fetch their first files. Ours rather than dnsmasq's because one
// file is decided per machine when it is asked for (GRUB's grub.cfg-01-<mac>, like /boot/<mac>.ipxe over
// HTTP), and every transfer is logged with the client that asked. Writes are refused.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { open, type FileHandle } from "node:fs/promises";
import { BootwrightError, type FailureContext } from "../../protocol/index.js";

const OP = { rrq: 1, wrq: 2, data: 3, ack: 4, error: 5, oack: 6 } as const;
/** TFTP error codes (RFC 1350 §5, RFC 2347). */
const ERR = { notDefined: 0, notFound: 1, accessViolation: 2, illegalOperation: 4, unknownTid: 5 } as const;

/** Ethernet's 1500-byte MTU less IP, UDP and TFTP headers: larger blocks would be fragmented. */
const MAX_BLKSIZE = 1468;
const DEFAULT_BLKSIZE = 512;

export type TftpSource = { kind: "file"; path: string } | { kind: "bytes"; bytes: Buffer };
export interface TftpClient {
  address: string;
  port: number;
}
/** What `name` is for this client; undefined when we have no such file. */
export type TftpResolve = (name: string, client: TftpClient) => Promise<TftpSource | undefined>;

export type TftpEvent =
  | { kind: "sent"; client: TftpClient; file: string; bytes: number; ms: number; blksize: number }
  | { kind: "not-found"; client: TftpClient; file: string }
  | { kind: "refused"; client: TftpClient; file: string; reason: string }
  | { kind: "failed"; client: TftpClient; file: string; reason: string; bytes: number };

export interface TftpServerOptions {
  address: string;
  /** Default 69. */
  port?: number;
  resolve: TftpResolve;
  onEvent?: (event: TftpEvent) => void;
  /** Wait for an ACK before sending again (a client's `timeout` option overrides it). */
  retransmitMs?: number;
  /** Sends of one packet before the transfer is given up. */
  attempts?: number;
}

export class TftpError extends BootwrightError<"tftp_failed"> {
  constructor(message: string, context: FailureContext<"tftp_failed">, options?: ErrorOptions) {
    super("tftp_failed", message, context, options);
  }
}

interface ReadRequest {
  opcode: number;
  file: string;
  options: Map<string, string>;
}

/** Parses RRQ/WRQ: opcode, then NUL-terminated filename, mode and option/value pairs. */
export function parseRequest(packet: Buffer): ReadRequest | undefined {
  if (packet.length < 4) return undefined;
  const opcode = packet.readUInt16BE(0);
  const fields: string[] = [];
  let start = 2;
  for (let i = 2; i < packet.length; i++) {
    if (packet[i] === 0) {
      fields.push(packet.subarray(start, i).toString("latin1"));
      start = i + 1;
    }
  }
  const [file, mode, ...rest] = fields;
  if (file === undefined || mode === undefined || file === "") return undefined;
  const options = new Map<string, string>();
  for (let i = 0; i + 1 < rest.length; i += 2) {
    const [name, value] = [rest[i], rest[i + 1]];
    if (name !== undefined && value !== undefined) options.set(name.toLowerCase(), value);
  }
  return { opcode, file, options };
}

/**
 * The name as the resolver sees it: `/`-separated, no leading slash (PXE ROMs send both forms, some
 * Windows-minded ones backslashes); undefined for anything that climbs out (`..`).
 */
export function normalizeName(raw: string): string | undefined {
  const parts = raw
    .replaceAll("\\", "/")
    .split("/")
    .filter((part) => part !== "" && part !== ".");
  if (parts.length === 0 || parts.some((part) => part === "..")) return undefined;
  return parts.join("/");
}

function errorPacket(code: number, message: string): Buffer {
  return Buffer.concat([Buffer.from([0, OP.error, 0, code]), Buffer.from(`${message}\0`, "latin1")]);
}

/** The options we accept, with the values we answer (RFC 2347: an option we do not know is left out). */
export function negotiate(
  options: Map<string, string>,
  size: number,
): { blksize: number; timeoutMs: number | undefined; oack: Map<string, string> } {
  const oack = new Map<string, string>();
  let blksize = DEFAULT_BLKSIZE;
  let timeoutMs: number | undefined;
  const asked = options.get("blksize");
  if (asked !== undefined && /^\d+$/.test(asked) && Number(asked) >= 8) {
    blksize = Math.min(Number(asked), MAX_BLKSIZE);
    oack.set("blksize", String(blksize));
  }
  const timeout = options.get("timeout");
  if (timeout !== undefined && /^\d+$/.test(timeout) && Number(timeout) >= 1 && Number(timeout) <= 255) {
    timeoutMs = Number(timeout) * 1000;
    oack.set("timeout", timeout);
  }
  if (options.has("tsize")) oack.set("tsize", String(size));
  return { blksize, timeoutMs, oack };
}

function oackPacket(oack: Map<string, string>): Buffer {
  const fields = [...oack].flatMap(([name, value]) => [name, value]);
  return Buffer.concat([
    Buffer.from([0, OP.oack]),
    Buffer.from(fields.map((f) => `${f}\0`).join(""), "latin1"),
  ]);
}

/** The bytes of one source, read a block at a time. */
interface BlockReader {
  size: number;
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

async function openSource(source: TftpSource): Promise<BlockReader> {
  if (source.kind === "bytes") {
    const bytes = source.bytes;
    return {
      size: bytes.length,
      read: (offset, length) => Promise.resolve(bytes.subarray(offset, offset + length)),
      close: () => Promise.resolve(),
    };
  }
  const handle: FileHandle = await open(source.path, "r");
  const size = (await handle.stat()).size;
  return {
    size,
    async read(offset, length) {
      const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      if (buffer.length > 0) await handle.read(buffer, 0, buffer.length, offset);
      return buffer;
    },
    close: () => handle.close(),
  };
}

export class TftpServer {
  private readonly transfers = new Set<Transfer>();

  private constructor(
    private readonly socket: Socket,
    private readonly options: TftpServerOptions,
  ) {
    socket.on("message", (packet, peer) => {
      this.onRequest(packet, peer);
    });
  }

  /** Binds the server's address; fails with the reason (port taken, no such address) rather than later. */
  static async start(options: TftpServerOptions): Promise<TftpServer> {
    const socket = createSocket({ type: "udp4", reuseAddr: false });
    const port = options.port ?? 69;
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address: options.address, port, exclusive: true }, () => {
        socket.off("error", reject);
        resolve();
      });
    }).catch((err: unknown) => {
      socket.close();
      throw new TftpError(
        `cannot listen for TFTP on ${options.address}:${port}: ${err instanceof Error ? err.message : String(err)}`,
        { address: options.address, port },
        { cause: err },
      );
    });
    return new TftpServer(socket, options);
  }

  get port(): number {
    return this.socket.address().port;
  }

  async close(): Promise<void> {
    await Promise.all([...this.transfers].map((transfer) => transfer.abort("server stopping")));
    await new Promise<void>((resolve) =>
      this.socket.close(() => {
        resolve();
      }),
    );
  }

  private onRequest(packet: Buffer, peer: RemoteInfo): void {
    const client = { address: peer.address, port: peer.port };
    const request = parseRequest(packet);
    const reply = (code: number, message: string): void => {
      this.socket.send(errorPacket(code, message), peer.port, peer.address);
    };
    if (!request || (request.opcode !== OP.rrq && request.opcode !== OP.wrq)) {
      reply(ERR.illegalOperation, "expected a read request");
      return;
    }
    if (request.opcode === OP.wrq) {
      reply(ERR.accessViolation, "read-only server");
      this.options.onEvent?.({ kind: "refused", client, file: request.file, reason: "write request" });
      return;
    }
    const name = normalizeName(request.file);
    if (name === undefined) {
      reply(ERR.accessViolation, "no such path");
      this.options.onEvent?.({
        kind: "refused",
        client,
        file: request.file,
        reason: "path outside the root",
      });
      return;
    }
    const transfer = new Transfer(client, name, request.options, this.options);
    this.transfers.add(transfer);
    void transfer.run().finally(() => this.transfers.delete(transfer));
  }
}

/** One read transfer, on a socket (a TID) of its own as RFC 1350 §4 asks. */
class Transfer {
  private socket: Socket | undefined;
  private waiting: ((packet: Buffer | undefined) => void) | undefined;
  private aborted: string | undefined;

  constructor(
    private readonly client: TftpClient,
    private readonly file: string,
    private readonly requested: Map<string, string>,
    private readonly options: TftpServerOptions,
  ) {}

  async abort(reason: string): Promise<void> {
    this.aborted = reason;
    this.waiting?.(undefined);
    await Promise.resolve();
  }

  async run(): Promise<void> {
    const emit = (event: TftpEvent): void => this.options.onEvent?.(event);
    let reader: BlockReader | undefined;
    let sent = 0;
    const started = performance.now();
    try {
      const socket = createSocket("udp4");
      this.socket = socket;
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind({ address: this.options.address, port: 0 }, () => {
          socket.off("error", reject);
          resolve();
        });
      });
      socket.on("message", (packet, peer) => {
        if (peer.address !== this.client.address || peer.port !== this.client.port) {
          socket.send(errorPacket(ERR.unknownTid, "unknown transfer id"), peer.port, peer.address);
          return;
        }
        this.waiting?.(packet);
      });
      let source: TftpSource | undefined;
      try {
        source = await this.options.resolve(this.file, this.client);
      } catch (err) {
        await this.sendLast(errorPacket(ERR.notDefined, "server error"));
        throw err;
      }
      if (!source) {
        await this.sendLast(errorPacket(ERR.notFound, "file not found"));
        emit({ kind: "not-found", client: this.client, file: this.file });
        return;
      }
      reader = await openSource(source);
      const { blksize, timeoutMs, oack } = negotiate(this.requested, reader.size);
      const waitMs = timeoutMs ?? this.options.retransmitMs ?? 1000;
      if (oack.size > 0) {
        const answer = await this.exchange(oackPacket(oack), 0, waitMs);
        if (answer === "error") return; // the client refused our options (or only wanted the size)
      }
      for (let block = 1; ; block++) {
        const data = await reader.read((block - 1) * blksize, blksize);
        const header = Buffer.from([0, OP.data, (block >> 8) & 0xff, block & 0xff]);
        const answer = await this.exchange(Buffer.concat([header, data]), block & 0xffff, waitMs);
        if (answer === "error") throw new Error(`client sent an error at block ${block}`);
        sent += data.length;
        if (data.length < blksize) break;
      }
      emit({
        kind: "sent",
        client: this.client,
        file: this.file,
        bytes: sent,
        ms: Math.round(performance.now() - started),
        blksize,
      });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      emit({ kind: "failed", client: this.client, file: this.file, reason, bytes: sent });
    } finally {
      await reader?.close();
      this.socket?.close();
    }
  }

  private send(packet: Buffer): void {
    this.socket?.send(packet, this.client.port, this.client.address);
  }

  /** Sends a last packet (an error) and waits until it left: closing the socket first would drop it. */
  private sendLast(packet: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (!this.socket) resolve();
      else
        this.socket.send(packet, this.client.port, this.client.address, () => {
          resolve();
        });
    });
  }

  /**
   * Sends `packet` and waits for the ACK of `block` (16-bit), sending again after each silence; a
   * duplicate ACK of an earlier block is ignored, never answered (the "Sorcerer's Apprentice" bug).
   */
  private async exchange(packet: Buffer, block: number, waitMs: number): Promise<"acked" | "error"> {
    const attempts = this.options.attempts ?? 5;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      this.send(packet);
      const deadline = performance.now() + waitMs;
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        const answer = await this.next(left);
        if (this.aborted) throw new Error(this.aborted);
        if (!answer || answer.length < 4) continue;
        const opcode = answer.readUInt16BE(0);
        if (opcode === OP.error) return "error";
        if (opcode === OP.ack && answer.readUInt16BE(2) === block) return "acked";
      }
    }
    throw new Error(`no ACK for block ${block} after ${attempts} sends`);
  }

  /** The next packet from the client, or undefined after `ms`. */
  private next(ms: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve(undefined);
      }, ms);
      this.waiting = (packet) => {
        clearTimeout(timer);
        this.waiting = undefined;
        resolve(packet);
      };
    });
  }
}
