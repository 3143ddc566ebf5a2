/**
 * A TCP proxy between an agent and the hub that a test can cut and restore: a terminal goes "offline"
 * (its network is down) while its process keeps running and keeps taking sales.
 */
import { connect, createServer, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

export interface Proxy {
  readonly port: number;
  readonly url: string;
  /** Drops every connection and refuses new ones until {@link restore}. */
  cut(): void;
  restore(): void;
  /** Points the proxy at another hub port (after a hub restart on a new port). */
  retarget(port: number): void;
  /** TCP connections accepted so far (refused ones while cut included): the client's connection attempts. */
  accepted(): number;
}

export async function startProxy(t: TestContext, targetPort: number): Promise<Proxy> {
  let target = targetPort;
  let up = true;
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      up = true;
    },
    retarget(p: number) {
      target = p;
    },
    accepted: () => accepted,
  };
}
