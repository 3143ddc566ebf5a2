/**
 * Refused request bodies: answering a request refused before its body was read without resetting the
 * connection (see {@link keepReadingRefusedBodies}).
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/** After refusing a body, read and discard it for at most this long before hanging up. */
const REFUSED_BODY_DRAIN_MS = 30_000;

/**
 * Answers a request refused before its body was read (413 for a body over `bodyLimit`, or any other error
 * of fastify's body parsing while the body is still arriving) without resetting the connection.
 *
 * fastify marks such an answer `Connection: close`; Node then destroys the socket as soon as the answer
 * is written, with the rest of the body still unread in the kernel's buffer, so the kernel resets the
 * connection and a client that is still sending the body sees ECONNRESET or EPIPE instead of the 413
 * (the hazard of closing too early, RFC 9112 section 9.6). A server must read the whole body or close
 * after its answer (RFC 9112 section 9): here the answer keeps the connection and the rest of the body is
 * read and thrown away, so the client finishes sending, reads the 413 and may reuse the connection. A
 * client that sends more than `maxBytes` after the answer, or for longer than `maxMs`, is disconnected.
 *
 * @example
 * const app = fastify({ bodyLimit });
 * keepReadingRefusedBodies(app, { maxBytes: 8 * bodyLimit });
 */
export function keepReadingRefusedBodies(
  app: FastifyInstance,
  limits: { readonly maxBytes: number; readonly maxMs?: number },
): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode >= 400 && !request.raw.complete && reply.getHeader('connection') === 'close') {
      reply.removeHeader('connection');
      discardRestOfBody(request.raw, limits.maxBytes, limits.maxMs ?? REFUSED_BODY_DRAIN_MS);
    }
    return payload;
  });
}

/** Reads `req` to its end, throwing the bytes away; destroys its socket past `maxBytes` or `maxMs`. */
function discardRestOfBody(req: IncomingMessage, maxBytes: number, maxMs: number): void {
  const socket = req.socket;
  let discarded = 0;
  const hangUp = () => {
    stop();
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) hangUp();
  };
  const timer = setTimeout(hangUp, maxMs).unref();
  const stop = () => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', stop);
    socket.off('close', stop);
  };
  req.on('data', onData);
  req.once('end', stop);
  socket.once('close', stop);
  req.resume();
}
