/**
 * Enforces the MQTT packet size limit before a packet reaches aedes. The guard reads only each packet's
 * fixed header (type byte + "remaining length" varint, [MQTT-2.2.3]) and counts the body bytes as they
 * pass; it never buffers a packet. A packet whose announced size exceeds the limit fails the stream as
 * soon as its header is complete, so an oversized body is never read, let alone parsed.
 */
import { Duplex, pipeline, Transform, type TransformCallback } from 'node:stream';
import { HubError } from '../errors.js';

/** Where the guard is inside the current packet. */
const State = { Type: 0, Length: 1, Body: 2 } as const;

/** A pass-through Transform that fails with `HUB_ERR_PACKET_TOO_LARGE` on the first oversized packet. */
export class MqttPacketSizeGuard extends Transform {
  readonly maxBytes: number;
  #state: number = State.Type;
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #remaining = 0;

  constructor(maxBytes: number) {
    super();
    this.maxBytes = maxBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === State.Type) {
        i++;
        this.#state = State.Length;
        this.#length = 0;
        this.#multiplier = 1;
        this.#lengthBytes = 0;
      } else if (this.#state === State.Length) {
        const byte = chunk[i++];
        this.#length += (byte & 0x7f) * this.#multiplier;
        this.#multiplier *= 128;
        this.#lengthBytes++;
        if (byte & 0x80) {
          // [MQTT-2.2.3]: the remaining length takes at most four bytes.
          if (this.#lengthBytes === 4) {
            callback(
              new HubError('HUB_ERR_PACKET_MALFORMED', 'MQTT remaining length longer than four bytes', {}),
            );
            return;
          }
        } else {
          const total = 1 + this.#lengthBytes + this.#length;
          if (total > this.maxBytes) {
            callback(
              new HubError(
                'HUB_ERR_PACKET_TOO_LARGE',
                `MQTT packet of ${total} bytes exceeds ${this.maxBytes}`,
                {
                  bytes: total,
                  maxBytes: this.maxBytes,
                },
              ),
            );
            return;
          }
          this.#remaining = this.#length;
          this.#state = this.#remaining > 0 ? State.Body : State.Type;
        }
      } else {
        const take = Math.min(this.#remaining, chunk.length - i);
        i += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = State.Type;
      }
    }
    callback(null, chunk);
  }
}

/**
 * Wraps a connection (TCP or TLS socket, WebSocket stream) for aedes: reads go through a
 * {@link MqttPacketSizeGuard}, writes go straight to the connection. When the guard fails, `onReject`
 * is called and only this connection is destroyed.
 */
export function guardConnection(conn: Duplex, maxBytes: number, onReject: (err: HubError) => void): Duplex {
  const guard = new MqttPacketSizeGuard(maxBytes);
  pipeline(conn, guard, (err) => {
    if (err instanceof HubError) onReject(err);
  });
  // [MQTT-4.8.0-1]: a protocol violation closes the network connection, the rest of the broker carries on.
  return Duplex.from({ readable: guard, writable: conn });
}
