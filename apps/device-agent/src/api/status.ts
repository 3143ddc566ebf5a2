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
  /**
   * Why the hub refuses this terminal, if it does: the connection (`AGENT_ERR_NOT_AUTHORIZED` for a wrong,
   * revoked or expired credential, `AGENT_ERR_HUB_UNAVAILABLE`, `AGENT_ERR_CONNECT_REFUSED`, with the
   * broker's words; cleared once a connection is accepted), or else the last whole batch it refused (a
   * sync-core code; the batch stays in the outbox and is offered again; cleared once a batch goes through).
   */
  readonly refused?: { readonly code: string; readonly message: string; readonly at: string } | null;
}
