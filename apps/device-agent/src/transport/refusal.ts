/**
 * Why the hub refuses this terminal's connection, as `GET /v1/sync/status` reports it in `refused`.
 * Stable codes, documented in docs/errors.md, section "Device agent". They are never HTTP errors: the local
 * API keeps serving the replica while the hub refuses the terminal.
 */

/**
 * The catalogue: each code with the MQTT 3.1.1 CONNACK return codes (table 3.1) it stands for. Return codes
 * 128 and above are MQTT 5 reason codes, which a hub speaking 3.1.1 never sends; they map to
 * `AGENT_ERR_CONNECT_REFUSED`.
 */
export const HubRefusalCodes = {
  /** CONNACK 4 or 5: the credential is wrong, revoked or expired, or the device id is not enrolled. */
  AGENT_ERR_NOT_AUTHORIZED: [4, 5],
  /** CONNACK 3: the hub cannot take the connection now (busy, or too many failed logins from this device). */
  AGENT_ERR_HUB_UNAVAILABLE: [3],
  /** Any other refusal: protocol version (1), identifier rejected (2), or an MQTT 5 reason code. */
  AGENT_ERR_CONNECT_REFUSED: [1, 2],
} as const;

export type HubRefusalCode = keyof typeof HubRefusalCodes;

/** A refusal of the connection by the hub: stable code, the broker's words, the CONNACK return code. */
export interface HubRefusal {
  readonly code: HubRefusalCode;
  readonly message: string;
  readonly returnCode: number;
}

/**
 * The refusal an mqtt.js connection error stands for, or undefined when the error is not a CONNACK refusal
 * (the hub unreachable, a timeout, a TLS failure): those are not the hub's answer.
 * @example
 * client.on('error', (err) => { const r = refusalOf(err); if (r) status.refused = r; });
 */
export function refusalOf(err: unknown): HubRefusal | undefined {
  const e = err as { code?: unknown; message?: unknown } | null;
  const rc = e?.code;
  // mqtt.js (ErrorWithReasonCode) puts the CONNACK return code in `code`; socket errors carry strings.
  if (typeof rc !== 'number' || !Number.isInteger(rc) || rc <= 0) return undefined;
  const message = typeof e?.message === 'string' ? e.message : `Connection refused: return code ${rc}`;
  if (!/^Connection refused/.test(message)) return undefined;
  let code: HubRefusalCode = 'AGENT_ERR_CONNECT_REFUSED';
  for (const [c, rcs] of Object.entries(HubRefusalCodes) as [HubRefusalCode, readonly number[]][]) {
    if (rcs.includes(rc)) code = c;
  }
  return { code, message, returnCode: rc };
}
