import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

export interface RunningServer {
  server: Server;
  /** The address actually bound (useful when port 0 asked the OS to choose). */
  port: number;
  /**
   * The first step of a drain: every response from now on says `Connection: close`, and idle
   * keep-alive connections are closed, so clients move to other instances while this one still
   * answers whatever reaches it.
   */
  beginDrain(): void;
  /** Stops accepting connections and resolves when in-flight requests finished or the timeout passed. */
  close(timeoutMs: number): Promise<{ drained: boolean }>;
}

export async function listen(app: Koa<never, never> | Koa, port: number, host: string): Promise<RunningServer> {
  const handle = app.callback();
  let draining = false;
  // Responses still being worked on when the drain begins must close their connections too, or a
  // client would reuse one after the listener has gone (a slow request that ends mid-drain).
  const unanswered = new Set<ServerResponse>();
  const server = createServer((request, response) => {
    if (draining) response.setHeader('Connection', 'close');
    else {
      unanswered.add(response);
      response.once('close', () => unanswered.delete(response));
    }
    void handle(request, response);
  });
  // Slowloris and idle-connection hygiene: bounded header time, keep-alive shorter than typical proxies'.
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    beginDrain: () => {
      draining = true;
      for (const response of unanswered) if (!response.headersSent) response.setHeader('Connection', 'close');
      unanswered.clear();
      server.closeIdleConnections();
    },
    close: (timeoutMs) =>
      new Promise((resolve) => {
        let finished = false;
        const timer = setTimeout(() => {
          // Requests still running past the deadline are cut off so the process can exit.
          server.closeAllConnections();
          if (!finished) resolve({ drained: false });
          finished = true;
        }, timeoutMs);
        server.close(() => {
          clearTimeout(timer);
          if (!finished) resolve({ drained: true });
          finished = true;
        });
        // Idle keep-alive sockets would otherwise hold server.close() open until they time out.
        server.closeIdleConnections();
      }),
  };
}
