/**
 * Transports for the broker: MQTT over TCP, over TLS, and over WebSocket at `/mqtt` on the HTTP server.
 * Each one tracks its open connections so that closing the hub never waits for an idle client.
 */
import { readFileSync } from 'node:fs';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { TlsConfig } from '../config.js';
import { HubError } from '../errors.js';
import type { HubBroker } from './broker.js';

/** A listening transport. */
export interface MqttListener {
  /** The bound port (the chosen one when 0 was asked for). */
  readonly port: number;
  /** Stops accepting connections and destroys the open ones. */
  close(): Promise<void>;
}

/** Path of the MQTT-over-WebSocket endpoint on the hub's HTTP server. */
export const MQTT_WS_PATH = '/mqtt';

/**
 * Serves MQTT on `host:port` over TCP, or over TLS when `tls` is given.
 * @throws HubError `HUB_ERR_PORT_IN_USE` when the port is taken; `HUB_ERR_CONFIG_INVALID` when the TLS
 *   certificate or key cannot be loaded.
 */
export async function listenMqtt(
  broker: HubBroker,
  host: string,
  port: number,
  tls?: TlsConfig,
): Promise<MqttListener> {
  const sockets = new Set<Socket>();
  const accept = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Small sync messages should leave at once, not wait for Nagle's algorithm.
    socket.setNoDelay(true);
    broker.handle(socket);
  };
  let server: Server;
  if (tls) {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = readFileSync(tls.certFile);
      key = readFileSync(tls.keyFile);
      server = createTlsServer({ cert, key }, accept);
    } catch (e) {
      throw new HubError(
        'HUB_ERR_CONFIG_INVALID',
        `cannot load the TLS certificate or key: ${(e as Error).message}`,
        {
          problems: [`tls: ${(e as Error).message}`],
        },
        e,
      );
    }
    // A failed TLS handshake is the client's problem; it must not reach the process as an error.
    server.on('tlsClientError', () => {});
  } else {
    server = createNetServer(accept);
  }
  const listener = tls ? 'mqtts' : 'mqtt';
  await listen(server, host, port, listener);
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * Serves MQTT over WebSocket at {@link MQTT_WS_PATH} on an HTTP server (ws with `noServer`, on the
 * server's `upgrade` event). Upgrades to any other path are refused with 404.
 */
export function attachMqttWebSocket(
  httpServer: HttpServer,
  broker: HubBroker,
  maxPacketBytes: number,
): {
  close(): Promise<void>;
} {
  // A WebSocket message carries one or more MQTT packets; the guard enforces the real limit per packet.
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPacketBytes + 16 });
  const streams = new Set<Duplex>();
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== MQTT_WS_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      streams.add(stream);
      stream.once('close', () => streams.delete(stream));
      broker.handle(stream, req);
    });
  };
  httpServer.on('upgrade', onUpgrade);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        httpServer.off('upgrade', onUpgrade);
        for (const s of streams) s.destroy();
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}

function listen(server: Server, host: string, port: number, listener: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new HubError(
            'HUB_ERR_PORT_IN_USE',
            `${listener} port ${port} is already in use`,
            { port, listener },
            err,
          ),
        );
      } else {
        reject(err);
      }
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
