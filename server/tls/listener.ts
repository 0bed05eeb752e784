// The server's port. Without TLS, an HTTP server. With TLS, one port still: firmware's iPXE cannot speak
// TLS to us (Debian's build has no HTTPS; see README "TLS"), so its boot script, kernel and initramfs stay
// plain HTTP, and everything else is HTTPS. The first byte of a connection tells them apart (22 is a TLS
// handshake record; an HTTP request starts with a method's letter): it is read, put back, and the
// connection handed to the HTTP or the HTTPS server. Which routes answer over plain HTTP is access.ts's
// rule, not the port's.
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from "node:net";
import type { ServerTls } from "./certificates.js";

const TLS_HANDSHAKE = 0x16;

/**
 * How long a kept-alive connection may sit idle before the server closes it (Node's own default, named:
 * the relay's nginx must give up its idle connections to us before this, see nginx-config.ts).
 */
export const SERVER_KEEP_ALIVE_MS = 5_000;

export interface Listener {
  /** The HTTP server fastify answers on (plain HTTP). */
  plain: HttpServer;
  /** The HTTPS server, when TLS is on: its requests go to the same routes. */
  secure: HttpsServer | null;
  port: number;
  /** Stops listening and drops open connections (keep-alive ones included). */
  close(): Promise<void>;
}

function hand(socket: Socket, plain: HttpServer, secure: HttpsServer): void {
  socket.on("error", () => socket.destroy()); // a client gone before its first byte is not our error
  socket.once("readable", () => {
    const first = socket.read(1) as Buffer | null;
    if (first === null) {
      socket.destroy();
      return;
    }
    socket.unshift(first);
    (first[0] === TLS_HANDSHAKE ? secure : plain).emit("connection", socket);
  });
}

async function listenOn(server: HttpServer | NetServer, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export async function listen(host: string, port: number, tls: ServerTls | null): Promise<Listener> {
  const plain = createHttpServer();
  plain.keepAliveTimeout = SERVER_KEEP_ALIVE_MS;
  if (!tls) {
    const bound = await listenOn(plain, port, host);
    return {
      plain,
      secure: null,
      port: bound,
      close: () => closeAll(plain, [plain]),
    };
  }
  const secure = createHttpsServer({ key: tls.key, cert: tls.chain });
  secure.keepAliveTimeout = SERVER_KEEP_ALIVE_MS;
  // pauseOnConnect: no byte is read before we look at the first one.
  const front = createNetServer({ pauseOnConnect: true }, (socket) => {
    hand(socket, plain, secure);
  });
  const bound = await listenOn(front, port, host);
  return { plain, secure, port: bound, close: () => closeAll(front, [plain, secure]) };
}

async function closeAll(
  listening: HttpServer | NetServer,
  servers: (HttpServer | HttpsServer)[],
): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    listening.close(() => {
      resolve();
    });
  });
  for (const server of servers) server.closeAllConnections();
  await closed;
}
