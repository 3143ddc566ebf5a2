/** The agent's sync state as `GET /v1/sync/status` reports it. */
export interface SyncStatus {
  /** True while the agent holds a live session with the hub. */
  readonly connected: boolean;
  /** Local writes not yet acknowledged by the hub. */
  readonly pendingUp: number;
  /** ISO 8601 time of the last completed exchange with the hub; null if it never synced. */
  readonly lastSyncAt: string | null;
  /** Hub clock minus this terminal's clock, in milliseconds, as learned at the last connection. */
  readonly clockOffsetMs: number;
  /** Objects whose local writes the hub refused; kept in the replica and listed, not pushed again. */
  readonly quarantined?: number;
  /** Why the hub last refused a whole batch (it stays in the outbox and is offered again), if it did. */
  readonly refused?: { readonly code: string; readonly message: string; readonly at: string } | null;
}
