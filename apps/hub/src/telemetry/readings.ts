/**
 * Plain MQTT sensors (CONTRACT.md "Sensors over plain MQTT"): a bare number or JSON `{ "value": n,
 * "unit": "C" }` on `backroom/v1/telemetry/{deviceId}/{metric}` lands in `readings`.
 *
 * Every accepted message is kept: a reading's id carries a fresh Sync Clock stamp of the hub, so readings
 * in the same millisecond never overwrite each other (they used to: 20 at once stored 5). A QoS 1 message
 * the sensor sends again (DUP set, same packet id, same payload: it did not see our PUBACK) is stored once.
 */
import { createHash } from 'node:crypto';
import { type LocalWriter, type RemoteMerger, stampToString } from '@backroom/sync-core';
import type { TelemetryPacket } from '../broker/device-channel.js';
import type { HubLogger } from '../logger.js';

/** Packet ids remembered per sensor for spotting redeliveries (MQTT allows 65,535 in flight; sensors use a few). */
const REMEMBERED_PER_DEVICE = 256;

/** Writes sensor telemetry into the `readings` collection. */
export class ReadingsIngest {
  /** Per device: packet id → digest of the payload stored under it. */
  private readonly recent = new Map<string, Map<number, string>>();

  constructor(
    /** Where readings are written; the clock gives each reading its unique stamp. */
    private readonly store: Pick<LocalWriter, 'put'> & Pick<RemoteMerger, 'clock'>,
    private readonly log: HubLogger,
  ) {}

  /**
   * Stores one telemetry message as a reading. Returns the reading's id, or undefined when the message was
   * a redelivery already stored, or not a reading (logged and dropped: a sensor cannot be told).
   */
  ingest(
    deviceId: string,
    metric: string,
    payload: Buffer,
    packet: TelemetryPacket = {},
  ): string | undefined {
    const digest = packet.messageId === undefined ? undefined : payloadDigest(metric, payload);
    let seen = this.recent.get(deviceId);
    if (packet.dup && packet.messageId !== undefined && seen?.get(packet.messageId) === digest) {
      this.log.debug({ deviceId, metric, messageId: packet.messageId }, 'telemetry redelivery ignored');
      return undefined;
    }
    let value: number;
    let unit: string | null;
    try {
      ({ value, unit } = parseReading(payload));
    } catch (err) {
      this.log.warn({ deviceId, metric, err: (err as Error).message }, 'telemetry payload ignored');
      return undefined;
    }
    const id = `${deviceId}/${metric}/${stampToString(this.store.clock.now())}`;
    this.store.put('readings', id, { deviceId, metric, value, unit, at: new Date().toISOString() });
    if (packet.messageId !== undefined && digest !== undefined) {
      if (!seen) {
        seen = new Map();
        this.recent.set(deviceId, seen);
      }
      seen.delete(packet.messageId);
      seen.set(packet.messageId, digest);
      if (seen.size > REMEMBERED_PER_DEVICE) seen.delete(seen.keys().next().value as number);
    }
    return id;
  }
}

function payloadDigest(metric: string, payload: Buffer): string {
  return createHash('sha256').update(metric).update('\u0000').update(payload).digest('base64url');
}

/** A bare number, or JSON with a numeric `value` and an optional string `unit`. */
function parseReading(payload: Buffer): { value: number; unit: string | null } {
  const parsed: unknown = JSON.parse(payload.toString('utf8').trim());
  const value = typeof parsed === 'number' ? parsed : (parsed as { value?: unknown } | null)?.value;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error('no numeric value');
  const unit =
    typeof parsed === 'object' && parsed !== null ? (parsed as { unit?: unknown }).unit : undefined;
  return { value, unit: typeof unit === 'string' ? unit : null };
}
