/**
 * Errors of the device agent's local API. Stable codes, documented in docs/errors.md, section
 * "Device agent".
 */

export const AgentApiErrorCodes = {
  /** The local API was asked to listen on a host other than 127.0.0.1: it has no authentication. */
  AGENT_ERR_NOT_LOOPBACK: 400,
  /** The API port is taken by another process. */
  AGENT_ERR_PORT_IN_USE: 500,
  /** A request whose Host header is not 127.0.0.1 or localhost (a DNS rebinding attempt from a web page). */
  AGENT_ERR_HOST_NOT_ALLOWED: 403,
} as const;

export type AgentApiErrorCode = keyof typeof AgentApiErrorCodes;

/** An error of the agent's local API. Check `code`, never the message. */
export class AgentApiError extends Error {
  readonly code: AgentApiErrorCode;
  readonly statusCode: number;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: AgentApiErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'AgentApiError';
    this.code = code;
    this.statusCode = AgentApiErrorCodes[code];
    this.details = details;
  }
}
