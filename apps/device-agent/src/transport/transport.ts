/**
 * The role interface between the agent's sync client and the network: one ordered, reliable channel to
 * the hub that comes and goes. The MQTT implementation is mqtt-transport.ts; tests may bring their own.
 */
import type { HubRefusal } from './refusal.js';

/** Events a transport emits. */
export interface TransportEvents {
  /** A session with the hub is up (subscribed to this device's downlink): say hello. */
  connect: () => void;
  /** The session ended; the transport reconnects on its own. */
  disconnect: (reason: string) => void;
  /** One sync message from the hub. */
  message: (payload: Buffer) => void;
  /**
   * The hub answered a connection attempt with a refusal (a wrong credential...): the transport keeps
   * trying, backing off, until {@link Transport.close}. The next `connect` means it was accepted.
   */
  refused: (refusal: HubRefusal) => void;
}

export interface Transport {
  /** Starts connecting (and reconnecting with backoff) until {@link close}. */
  start(): void;
  /** Sends one sync message to the hub (QoS 1). Rejects when not connected. */
  send(payload: Uint8Array): Promise<void>;
  isConnected(): boolean;
  on<K extends keyof TransportEvents>(event: K, listener: TransportEvents[K]): void;
  /** Says goodbye (the device's offline presence) and stops. */
  close(): Promise<void>;
}
