// Shared by the loader's client tests: a real server on a loopback port, closed when the test finishes
// (its open connections first: a server waits for kept-alive and silent ones before it closes).
import type { AddressInfo, Server, Socket } from "node:net";
import { onTestFinished } from "vitest";

/** Listens on 127.0.0.1, port 0; resolves to `http://127.0.0.1:<port>`. */
export function listenOnLoopback(server: Server): Promise<string> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy();
    // A test may have closed it already (to have a port nothing listens on).
    if (server.listening)
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}
