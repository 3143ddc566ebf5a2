/** The sync protocol codec: message types, encode/decode with full validation, and change batching. */
export { decodeChange, encodeChange } from './change-codec.js';
export { decodeMessage, encodeMessage } from './message-codec.js';
export type {
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
export { DEFAULT_MAX_MESSAGE_BYTES, PROTOCOL_VERSION } from './messages.js';
export { DEFAULT_ENVELOPE_BYTES, measureEnvelope, splitChanges } from './split.js';
