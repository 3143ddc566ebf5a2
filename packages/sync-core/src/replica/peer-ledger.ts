/**
 * The record a replica keeps of each peer: how far it acknowledged the change feed (its cursor: the hub
 * on a terminal, each device on the hub) and, for filtered collections, which objects the hub sent it.
 * Kept in the replica's own file so that a cursor and the writes it covers survive a crash together.
 */
import type { Statement } from '../sqlite.js';
import type { ObjectKey, ReplicaCore } from './core.js';

/** A peer's sync cursor and when it last moved (see `PeerLedger.peers`). */
export interface PeerRecord {
  peer: string;
  cursor: string;
  /** When the cursor was last set (ms since the epoch). */
  updated: number;
}

/** The statements of this module, by name. */
interface LedgerStatements {
  readonly cursor: Statement<[peer: string], string>;
  readonly setCursor: Statement<[peer: string, cursor: string, updated: number], never>;
  readonly peers: Statement<[], PeerRecord>;
  readonly addObject: Statement<[peer: string, collection: string, id: string], never>;
  readonly deleteObject: Statement<[peer: string, collection: string, id: string], never>;
  readonly objects: Statement<[peer: string], ObjectKey>;
  readonly clearObjects: Statement<[peer: string], never>;
}

/** The `peers` and `peer_objects` tables of one replica (see the file comment). */
export class PeerRecords {
  private readonly st: LedgerStatements;

  constructor(core: ReplicaCore) {
    const db = core.db;
    this.st = {
      cursor: db.prepare<[string], string>('SELECT cursor FROM peers WHERE peer = ?').pluck(),
      setCursor: db.prepare(
        'INSERT INTO peers (peer, cursor, updated) VALUES (?, ?, ?) ON CONFLICT(peer) DO UPDATE SET cursor=excluded.cursor, updated=excluded.updated',
      ),
      peers: db.prepare('SELECT peer, cursor, updated FROM peers ORDER BY peer'),
      addObject: db.prepare('INSERT OR IGNORE INTO peer_objects (peer, collection, id) VALUES (?, ?, ?)'),
      deleteObject: db.prepare('DELETE FROM peer_objects WHERE peer = ? AND collection = ? AND id = ?'),
      objects: db.prepare('SELECT collection, id FROM peer_objects WHERE peer = ?'),
      clearObjects: db.prepare('DELETE FROM peer_objects WHERE peer = ?'),
    };
  }

  /** See `PeerLedger.peerCursor`. */
  peerCursor(peer: string): string | undefined {
    return this.st.cursor.get(peer);
  }

  /** See `PeerLedger.setPeerCursor`. */
  setPeerCursor(peer: string, cursor: string): void {
    this.st.setCursor.run(peer, cursor, Date.now());
  }

  /** See `PeerLedger.peers`. */
  peers(): PeerRecord[] {
    return this.st.peers.all();
  }

  /** See `PeerLedger.setPeerHas`. */
  setPeerHas(peer: string, collection: string, id: string, has: boolean): void {
    if (has) this.st.addObject.run(peer, collection, id);
    else this.st.deleteObject.run(peer, collection, id);
  }

  /** See `PeerLedger.peerObjects`. */
  peerObjects(peer: string): ObjectKey[] {
    return this.st.objects.all(peer);
  }

  /** See `PeerLedger.clearPeerObjects`. */
  clearPeerObjects(peer: string): void {
    this.st.clearObjects.run(peer);
  }
}
