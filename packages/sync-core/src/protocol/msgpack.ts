/**
 * The one msgpackr configuration of the sync protocol, shared by every encoder and decoder here.
 *
 * - `useRecords: false`: plain MessagePack maps and arrays, decodable by any MessagePack library, and no
 *   shared record structures whose loss would make old messages unreadable.
 * - `int64AsType: 'bigint'`: a 64-bit integer always decodes as a bigint, so a Sync Clock stamp (which
 *   msgpackr always writes as int64/uint64 because it is a bigint) never passes through a JS number.
 * - `structuredClone: false`: references and cycles are refused by the decoder, so a decoded value is a tree.
 * - `variableMapSize: true`: fixmap headers for small maps (one byte instead of three per field map).
 */
import { Packr, Unpackr } from 'msgpackr';

export const packr = new Packr({
  useRecords: false,
  variableMapSize: true,
  moreTypes: false,
  useToJSON: false,
});

export const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'bigint',
  structuredClone: false,
  moreTypes: false,
});
