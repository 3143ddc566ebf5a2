/**
 * The role interface between the MQTT broker and the sync server: what devices send, how to reach them,
 * who is online. The broker implements it (broker/broker.ts); the sync server only sees this.
 */
import type { DevicePrincipal } from '../auth/device.js';

export type { DevicePrincipal };

/** Online state of one device as seen by this hub since it started. */
export interface DeviceSighting {
  readonly deviceId: string;
  readonly online: boolean;
  /** Last connect or disconnect (ms since epoch). */
  readonly lastSeen: number;
}

/** What a telemetry handler needs of the PUBLISH packet: QoS 1 redeliveries carry `dup` and the same id. */
export interface TelemetryPacket {
  readonly messageId?: number;
  readonly dup?: boolean;
}

/**
 * Devices as the sync server sees them. Handlers are called synchronously in the order messages arrive
 * on a connection; a handler that throws (or returns a rejected promise) is logged and never crashes the hub.
 * Delivery is at least once: a device may redeliver a message (QoS 1) after a reconnect.
 */
export interface DeviceChannel {
  /** Called for every payload a device publishes on backroom/v1/sync/{deviceId}/up (after ACL). */
  onMessage(handler: (deviceId: string, payload: Buffer, principal: DevicePrincipal) => void): void;
  /**
   * Publish to backroom/v1/sync/{deviceId}/down with QoS 1. Resolves when handed to aedes (queued for an
   * offline device with a persistent session, dropped for a device with none).
   * Rejects with `HUB_ERR_SHUTTING_DOWN` once the broker is closing.
   */
  send(deviceId: string, payload: Uint8Array): Promise<void>;
  /** Called after the CONNACK of each authenticated connection. */
  onConnect(h: (p: DevicePrincipal) => void): void;
  /** Called when a device's connection ends, for any reason (including a session takeover). */
  onDisconnect(h: (deviceId: string) => void): void;
  /** True while the device has an open, authenticated connection. */
  isOnline(deviceId: string): boolean;
  /** Every device seen since the hub started. */
  devices(): { deviceId: string; online: boolean; lastSeen: number }[];
  /** Telemetry on backroom/v1/telemetry/{deviceId}/{metric}. */
  onTelemetry(h: (deviceId: string, metric: string, payload: Buffer, packet: TelemetryPacket) => void): void;
  /** Force-close the device's connection (e.g. revoked). Its will is published; no-op when offline. */
  disconnect(deviceId: string): void;
}
