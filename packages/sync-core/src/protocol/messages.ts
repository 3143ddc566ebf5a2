/**
 * The sync protocol's message vocabulary: one TypeScript type per message kind, discriminated by `k`.
 *
 * A device agent publishes device → hub messages to `backroom/v1/sync/{deviceId}/up` and the hub publishes
 * hub → device messages to `backroom/v1/sync/{deviceId}/down`, at QoS 1; each MQTT payload is exactly one
 * message encoded by {@link encodeMessage}. docs/protocol-messages.md lists every field.
 */
import type { Change, Stamp } from '../types.js';

/** The protocol version this code speaks; carried as `v` in every encoded message. */
export const PROTOCOL_VERSION = 1;

/**
 * Default largest encoded message, in bytes: the broker's default 1 MiB packet limit minus 1 KiB of headroom
 * for the MQTT fixed header, topic name, packet id and properties. A deployment with another broker limit
 * passes `limit - 1024` (or the limit minus its exact topic overhead) as `maxBytes`.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024 - 1024;

/** Device → hub, first message after every (re)connect: who the terminal is and how far it has pulled. */
export interface HelloMessage {
  readonly k: 'hello';
  readonly deviceId: string;
  /** Values for `$client.VAR` in sync filters (for example the terminal's store or lane). */
  readonly clientVars: Readonly<Record<string, string>>;
  /** Hub change sequence the device has pulled up to, as a decimal string; "0" at first. */
  readonly cursor: string;
  /** Device wall clock in ms when sending, for the hub's first offset estimate. */
  readonly wallTime: number;
  readonly agentVersion: string;
  /** Only for transports without MQTT CONNECT credentials; normally absent. */
  readonly token?: string;
}

/** Hub → device, answer to `hello`: the hub's identity, clock and limits. */
export interface WelcomeMessage {
  readonly k: 'welcome';
  readonly hubId: string;
  /** Hub wall clock in ms when sending. */
  readonly hubTime: number;
  /** Estimated hub clock minus device clock, in ms (may be negative). */
  readonly offsetMs: number;
  /** The device must drop its replica and pull from "0" (it was away longer than the tombstone retention). */
  readonly resync: boolean;
  /** Largest message the hub accepts, in bytes. */
  readonly maxMessageBytes: number;
  /** Largest allowed stamp lead over the hub clock, in ms; beyond it a write is rebased. */
  readonly maxSkewMs: number;
}

/** Device → hub: a batch of local changes from the outbox. */
export interface PushMessage {
  readonly k: 'push';
  /** Idempotency key of the batch: the hub acknowledges it by this id, and a redelivery is applied once. */
  readonly batchId: string;
  readonly changes: readonly Change[];
}

/** A write or increment the hub re-stamped because its stamp was too far in the future. */
export interface RebasedStamp {
  readonly collection: string;
  readonly id: string;
  /** The node that wrote it. */
  readonly node: string;
  /** Its original stamp. */
  readonly from: Stamp;
  /** The stamp the hub gave it instead. */
  readonly to: Stamp;
}

/** Hub → device: the batch `batchId` is durably applied at the hub. */
export interface AckMessage {
  readonly k: 'ack';
  readonly batchId: string;
  readonly rebased: readonly RebasedStamp[];
  /**
   * The hub's registers of the objects whose stamps it rebased, right after applying the batch: the
   * device merges them with the new stamps, so it agrees with the hub. Empty when nothing was rebased.
   */
  readonly state: readonly Change[];
}

/** Device → hub: send me the changes after this cursor. */
export interface PullMessage {
  readonly k: 'pull';
  /** Hub change sequence (decimal string) the device already has. */
  readonly since: string;
}

/** An object the device must drop from its replica (it no longer matches the device's sync filter). */
export interface EvictedObject {
  readonly collection: string;
  readonly id: string;
}

/** Hub → device: one page of changes for a `pull`. */
export interface ChangesMessage {
  readonly k: 'changes';
  /** Hub change sequence this page starts after: a device whose cursor is below it missed a page. */
  readonly since: string;
  readonly changes: readonly Change[];
  readonly evict: readonly EvictedObject[];
  /** Hub change sequence (decimal string) this page brings the device up to. */
  readonly cursor: string;
  /** More pages follow for the same pull. */
  readonly more: boolean;
}

/** Either way: a request or batch was refused. A value sent to the peer, never a thrown error. */
export interface RejectMessage {
  readonly k: 'reject';
  /** The refused push batch, when the refusal is about one. */
  readonly batchId?: string;
  /** A stable error code, for example `SYNC_ERR_MESSAGE_MALFORMED`. */
  readonly code: string;
  readonly message: string;
  /**
   * The object whose change made the hub refuse the batch, when one did: the device sets that object's
   * pending writes aside (kept, reported) and pushes the rest again.
   */
  readonly object?: EvictedObject;
}

/**
 * Either way: an NTP-style clock offset probe. The sender puts its clock in `t0`; the receiver answers
 * with the same `t0` and its own clock in `t1`.
 */
export interface TimeMessage {
  readonly k: 'time';
  /** Sender's clock in ms when the probe left. */
  readonly t0: number;
  /** Receiver's clock in ms when it replied; absent in the probe itself. */
  readonly t1?: number;
}

/** Every message of sync protocol version 1, discriminated by its kind `k`. */
export type SyncMessage =
  | HelloMessage
  | WelcomeMessage
  | PushMessage
  | AckMessage
  | PullMessage
  | ChangesMessage
  | RejectMessage
  | TimeMessage;

/** The kind tag of a {@link SyncMessage}. */
export type SyncMessageKind = SyncMessage['k'];

/** Options of {@link encodeMessage} and {@link decodeMessage}. */
export interface MessageSizeOptions {
  /** Largest encoded message in bytes; default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  readonly maxBytes?: number;
}
