/**
 * encodeMessage / decodeMessage: a {@link SyncMessage} ↔ one MQTT payload.
 *
 * On the wire a message is a MessagePack map `{ v, k, ...fields }`: `v` the protocol version, `k` the kind,
 * then the kind's fields under their TypeScript names (they appear once per message, so names cost little).
 * The bulk — changes, evictions, rebased stamps — travels as tuples (see change-codec.ts). `v` is read
 * before anything else, so a future version that changes everything after it is still told apart.
 *
 * One handler per message kind ({@link kinds}): each lists its fields, validates and builds its wire map,
 * and validates and builds its message from a wire map. Decoding validates the whole message before
 * returning it, refuses unknown fields, and copies only known fields into fresh objects.
 */
import { SyncError } from '../errors.js';
import type { Change } from '../types.js';
import { changeFromWire, changeToWire } from './change-codec.js';
import {
  anyString,
  array,
  bool,
  cursor,
  describe,
  finiteNumber,
  isPlainObject,
  keyPath,
  malformed,
  nonEmptyString,
  nonNegativeNumber,
  plainObject,
  positiveInteger,
  stamp,
} from './guards.js';
import type {
  AckMessage,
  ChangesMessage,
  EvictedObject,
  HelloMessage,
  MessageSizeOptions,
  PullMessage,
  PushMessage,
  RebasedStamp,
  RejectMessage,
  SyncMessage,
  SyncMessageKind,
  TimeMessage,
  WelcomeMessage,
} from './messages.js';
import { DEFAULT_MAX_MESSAGE_BYTES, PROTOCOL_VERSION } from './messages.js';
import { packr, unpackr } from './msgpack.js';

type Wire = Record<string, unknown>;

interface KindHandler<M extends SyncMessage> {
  /** Every key the wire map may carry, envelope included. */
  readonly keys: ReadonlySet<string>;
  /** Validates `m` and adds its fields to the wire map `w` (which already holds `v` and `k`). */
  toWire(m: M, w: Wire): void;
  /** Validates the wire map `w` (keys already checked) and builds the message. */
  fromWire(w: Wire): M;
}

const keySet = (...keys: string[]): ReadonlySet<string> => new Set(['v', 'k', ...keys]);

function changesToWire(changes: readonly Change[], path: string): unknown[] {
  if (!Array.isArray(changes))
    throw malformed(path, `expected an array of changes, got ${describe(changes)}`);
  const out = new Array(changes.length);
  for (let i = 0; i < changes.length; i++) out[i] = changeToWire(changes[i], `${path}[${i}]`);
  return out;
}

function changesFromWire(x: unknown, path: string): Change[] {
  const wire = array(x, path);
  const out: Change[] = new Array(wire.length);
  for (let i = 0; i < wire.length; i++) out[i] = changeFromWire(wire[i], `${path}[${i}]`);
  return out;
}

const hello: KindHandler<HelloMessage> = {
  keys: keySet('deviceId', 'clientVars', 'cursor', 'wallTime', 'agentVersion', 'token'),
  toWire(m, w) {
    w.deviceId = nonEmptyString(m.deviceId, '$.deviceId');
    w.clientVars = clientVars(m.clientVars);
    w.cursor = cursor(m.cursor, '$.cursor');
    w.wallTime = nonNegativeNumber(m.wallTime, '$.wallTime');
    w.agentVersion = nonEmptyString(m.agentVersion, '$.agentVersion');
    if (m.token !== undefined) w.token = nonEmptyString(m.token, '$.token');
  },
  fromWire(w) {
    const m: { -readonly [K in keyof HelloMessage]: HelloMessage[K] } = {
      k: 'hello',
      deviceId: nonEmptyString(w.deviceId, '$.deviceId'),
      clientVars: clientVars(w.clientVars),
      cursor: cursor(w.cursor, '$.cursor'),
      wallTime: nonNegativeNumber(w.wallTime, '$.wallTime'),
      agentVersion: nonEmptyString(w.agentVersion, '$.agentVersion'),
    };
    if (w.token !== undefined) m.token = nonEmptyString(w.token, '$.token');
    return m;
  },
};

function clientVars(x: unknown): Record<string, string> {
  const vars = plainObject(x, '$.clientVars');
  for (const name in vars) {
    if (name === '__proto__') throw malformed('$.clientVars', 'own "__proto__" key is not allowed');
    anyString(vars[name], keyPath('$.clientVars', name));
  }
  return vars as Record<string, string>;
}

const welcome: KindHandler<WelcomeMessage> = {
  keys: keySet('hubId', 'hubTime', 'offsetMs', 'resync', 'maxMessageBytes', 'maxSkewMs'),
  toWire(m, w) {
    w.hubId = nonEmptyString(m.hubId, '$.hubId');
    w.hubTime = nonNegativeNumber(m.hubTime, '$.hubTime');
    w.offsetMs = finiteNumber(m.offsetMs, '$.offsetMs');
    w.resync = bool(m.resync, '$.resync');
    w.maxMessageBytes = positiveInteger(m.maxMessageBytes, '$.maxMessageBytes');
    w.maxSkewMs = nonNegativeNumber(m.maxSkewMs, '$.maxSkewMs');
  },
  fromWire(w) {
    return {
      k: 'welcome',
      hubId: nonEmptyString(w.hubId, '$.hubId'),
      hubTime: nonNegativeNumber(w.hubTime, '$.hubTime'),
      offsetMs: finiteNumber(w.offsetMs, '$.offsetMs'),
      resync: bool(w.resync, '$.resync'),
      maxMessageBytes: positiveInteger(w.maxMessageBytes, '$.maxMessageBytes'),
      maxSkewMs: nonNegativeNumber(w.maxSkewMs, '$.maxSkewMs'),
    };
  },
};

const push: KindHandler<PushMessage> = {
  keys: keySet('batchId', 'changes'),
  toWire(m, w) {
    w.batchId = nonEmptyString(m.batchId, '$.batchId');
    w.changes = changesToWire(m.changes, '$.changes');
  },
  fromWire(w) {
    return {
      k: 'push',
      batchId: nonEmptyString(w.batchId, '$.batchId'),
      changes: changesFromWire(w.changes, '$.changes'),
    };
  },
};

const ack: KindHandler<AckMessage> = {
  keys: keySet('batchId', 'rebased', 'state'),
  toWire(m, w) {
    w.batchId = nonEmptyString(m.batchId, '$.batchId');
    if (!Array.isArray(m.rebased))
      throw malformed('$.rebased', `expected an array, got ${describe(m.rebased)}`);
    w.rebased = m.rebased.map((r: RebasedStamp, i) => {
      const at = `$.rebased[${i}]`;
      if (typeof r !== 'object' || r === null)
        throw malformed(at, 'expected { collection, id, node, from, to }');
      return [
        nonEmptyString(r.collection, `${at}.collection`),
        nonEmptyString(r.id, `${at}.id`),
        nonEmptyString(r.node, `${at}.node`),
        stamp(r.from, `${at}.from`),
        stamp(r.to, `${at}.to`),
      ];
    });
    w.state = changesToWire(m.state, '$.state');
  },
  fromWire(w) {
    const wire = array(w.rebased, '$.rebased');
    const rebased: RebasedStamp[] = new Array(wire.length);
    for (let i = 0; i < wire.length; i++) {
      const r = wire[i];
      const at = `$.rebased[${i}]`;
      if (!Array.isArray(r) || r.length !== 5)
        throw malformed(at, 'expected a tuple [collection, id, node, from, to]');
      rebased[i] = {
        collection: nonEmptyString(r[0], `${at}.collection`),
        id: nonEmptyString(r[1], `${at}.id`),
        node: nonEmptyString(r[2], `${at}.node`),
        from: stamp(r[3], `${at}.from`),
        to: stamp(r[4], `${at}.to`),
      };
    }
    return {
      k: 'ack',
      batchId: nonEmptyString(w.batchId, '$.batchId'),
      rebased,
      state: changesFromWire(w.state, '$.state'),
    };
  },
};

const pull: KindHandler<PullMessage> = {
  keys: keySet('since'),
  toWire(m, w) {
    w.since = cursor(m.since, '$.since');
  },
  fromWire(w) {
    return { k: 'pull', since: cursor(w.since, '$.since') };
  },
};

const changes: KindHandler<ChangesMessage> = {
  keys: keySet('since', 'changes', 'evict', 'cursor', 'more'),
  toWire(m, w) {
    w.since = cursor(m.since, '$.since');
    w.changes = changesToWire(m.changes, '$.changes');
    if (!Array.isArray(m.evict)) throw malformed('$.evict', `expected an array, got ${describe(m.evict)}`);
    w.evict = m.evict.map((e: EvictedObject, i) => {
      if (typeof e !== 'object' || e === null)
        throw malformed(`$.evict[${i}]`, 'expected { collection, id }');
      return [
        nonEmptyString(e.collection, `$.evict[${i}].collection`),
        nonEmptyString(e.id, `$.evict[${i}].id`),
      ];
    });
    w.cursor = cursor(m.cursor, '$.cursor');
    w.more = bool(m.more, '$.more');
  },
  fromWire(w) {
    const changeList = changesFromWire(w.changes, '$.changes');
    const wire = array(w.evict, '$.evict');
    const evict: EvictedObject[] = new Array(wire.length);
    for (let i = 0; i < wire.length; i++) {
      const e = wire[i];
      if (!Array.isArray(e) || e.length !== 2)
        throw malformed(`$.evict[${i}]`, 'expected a tuple [collection, id]');
      evict[i] = {
        collection: nonEmptyString(e[0], `$.evict[${i}].collection`),
        id: nonEmptyString(e[1], `$.evict[${i}].id`),
      };
    }
    return {
      k: 'changes',
      since: cursor(w.since, '$.since'),
      changes: changeList,
      evict,
      cursor: cursor(w.cursor, '$.cursor'),
      more: bool(w.more, '$.more'),
    };
  },
};

const reject: KindHandler<RejectMessage> = {
  keys: keySet('batchId', 'code', 'message', 'object'),
  toWire(m, w) {
    if (m.batchId !== undefined) w.batchId = nonEmptyString(m.batchId, '$.batchId');
    w.code = nonEmptyString(m.code, '$.code');
    w.message = anyString(m.message, '$.message');
    if (m.object !== undefined) {
      if (typeof m.object !== 'object' || m.object === null)
        throw malformed('$.object', 'expected { collection, id }');
      w.object = [
        nonEmptyString(m.object.collection, '$.object.collection'),
        nonEmptyString(m.object.id, '$.object.id'),
      ];
    }
  },
  fromWire(w) {
    const m: { -readonly [K in keyof RejectMessage]: RejectMessage[K] } = {
      k: 'reject',
      code: nonEmptyString(w.code, '$.code'),
      message: anyString(w.message, '$.message'),
    };
    if (w.batchId !== undefined) m.batchId = nonEmptyString(w.batchId, '$.batchId');
    if (w.object !== undefined) {
      const o = w.object;
      if (!Array.isArray(o) || o.length !== 2)
        throw malformed('$.object', 'expected a tuple [collection, id]');
      m.object = {
        collection: nonEmptyString(o[0], '$.object.collection'),
        id: nonEmptyString(o[1], '$.object.id'),
      };
    }
    return m;
  },
};

const time: KindHandler<TimeMessage> = {
  keys: keySet('t0', 't1'),
  toWire(m, w) {
    w.t0 = nonNegativeNumber(m.t0, '$.t0');
    if (m.t1 !== undefined) w.t1 = nonNegativeNumber(m.t1, '$.t1');
  },
  fromWire(w) {
    const m: { -readonly [K in keyof TimeMessage]: TimeMessage[K] } = {
      k: 'time',
      t0: nonNegativeNumber(w.t0, '$.t0'),
    };
    if (w.t1 !== undefined) m.t1 = nonNegativeNumber(w.t1, '$.t1');
    return m;
  },
};

/** One handler per message kind. */
const kinds: { readonly [K in SyncMessageKind]: KindHandler<Extract<SyncMessage, { k: K }>> } = {
  hello,
  welcome,
  push,
  ack,
  pull,
  changes,
  reject,
  time,
};

function handlerFor(k: unknown): KindHandler<SyncMessage> | undefined {
  return typeof k === 'string' && Object.hasOwn(kinds, k)
    ? (kinds[k as SyncMessageKind] as KindHandler<SyncMessage>)
    : undefined;
}

function limitOf(opts: MessageSizeOptions | undefined): number {
  const maxBytes = opts?.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
  }
  return maxBytes;
}

/**
 * Validates `m` and encodes it as one MQTT payload.
 *
 * @param opts.maxBytes largest payload allowed (default {@link DEFAULT_MAX_MESSAGE_BYTES}); pass the broker's
 *   packet limit minus the MQTT header and topic overhead (about 1 KiB is plenty).
 * @throws SyncError `SYNC_ERR_MESSAGE_MALFORMED` (with `details.path`) when `m` is not a valid message, and
 *   `SYNC_ERR_MESSAGE_TOO_LARGE` (with `details.bytes`, `details.maxBytes`) when its encoding is larger than
 *   `maxBytes` — split the changes with {@link splitChanges} first. RangeError for an invalid `maxBytes`.
 * @example
 * const payload = encodeMessage({ k: 'pull', since: '0' });
 * client.publish(`backroom/v1/sync/${deviceId}/up`, payload, { qos: 1 });
 */
export function encodeMessage(m: SyncMessage, opts?: MessageSizeOptions): Uint8Array {
  const maxBytes = limitOf(opts);
  if (typeof m !== 'object' || m === null) throw malformed('$', `expected a message, got ${describe(m)}`);
  const handler = handlerFor(m.k);
  if (handler === undefined) throw malformed('$.k', `unknown message kind ${JSON.stringify(String(m.k))}`);
  const wire: Wire = { v: PROTOCOL_VERSION, k: m.k };
  handler.toWire(m, wire);
  const bytes = packr.pack(wire);
  if (bytes.length > maxBytes) {
    throw new SyncError(
      'SYNC_ERR_MESSAGE_TOO_LARGE',
      `sync message of ${bytes.length} bytes is larger than the limit of ${maxBytes}`,
      { kind: m.k, bytes: bytes.length, maxBytes },
    );
  }
  return bytes;
}

/**
 * Decodes and fully validates one MQTT payload. Nothing is returned half-validated: every field, change,
 * version and value has been checked, and unknown fields are refused.
 *
 * @param opts.maxBytes largest payload accepted (default {@link DEFAULT_MAX_MESSAGE_BYTES}); checked before
 *   any decoding.
 * @throws SyncError only (for any input bytes): `SYNC_ERR_MESSAGE_TOO_LARGE` (`details.bytes`,
 *   `details.maxBytes`), `SYNC_ERR_UNSUPPORTED_VERSION` (`details.version`), or `SYNC_ERR_MESSAGE_MALFORMED`
 *   (`details.path`, e.g. `$.changes[3].fields.price.ver.s`, and `details.reason`). RangeError only for an
 *   invalid `maxBytes` option.
 * @example
 * const m = decodeMessage(payload, { maxBytes: welcome.maxMessageBytes });
 * if (m.k === 'push') await applyBatch(m.batchId, m.changes);
 */
export function decodeMessage(buf: Uint8Array, opts?: MessageSizeOptions): SyncMessage {
  const maxBytes = limitOf(opts);
  if (!(buf instanceof Uint8Array)) throw malformed('$', `expected bytes, got ${describe(buf)}`);
  if (buf.length > maxBytes) {
    throw new SyncError(
      'SYNC_ERR_MESSAGE_TOO_LARGE',
      `sync message of ${buf.length} bytes is larger than the limit of ${maxBytes}`,
      { bytes: buf.length, maxBytes },
    );
  }
  let wire: unknown;
  try {
    wire = unpackr.unpack(buf);
  } catch (e) {
    // Truncated, trailing bytes, unknown extension, nesting deep enough to overflow the stack...
    throw malformed('$', 'not a complete MessagePack value', e);
  }
  if (!isPlainObject(wire)) throw malformed('$', `expected a message map, got ${describe(wire)}`);
  const v = wire.v;
  if (v !== PROTOCOL_VERSION) {
    if ((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint') {
      throw new SyncError(
        'SYNC_ERR_UNSUPPORTED_VERSION',
        `sync protocol version ${v} is not supported (this node speaks ${PROTOCOL_VERSION})`,
        { version: typeof v === 'bigint' ? v.toString() : v, supported: [PROTOCOL_VERSION] },
      );
    }
    throw malformed('$.v', `expected the protocol version number, got ${describe(v)}`);
  }
  const handler = handlerFor(wire.k);
  if (handler === undefined) throw malformed('$.k', `unknown message kind (${describe(wire.k)})`);
  for (const key in wire) {
    if (!handler.keys.has(key)) throw malformed(keyPath('$', key), `unknown field of a ${wire.k} message`);
  }
  return handler.fromWire(wire);
}
