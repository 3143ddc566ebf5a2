/**
 * Errors of the device agent's local API. Stable codes, documented in docs/errors.md, section
 * "Device agent".
 */
import { defineErrorCatalogue } from '@backroom/sync-core';

export const AgentApiErrorCodes = {
  /** The local API was asked to listen on a host other than 127.0.0.1: it has no authentication. */
  AGENT_ERR_NOT_LOOPBACK: 400,
  /** The API port is taken by another process. */
  AGENT_ERR_PORT_IN_USE: 500,
  /** A request whose Host header is not 127.0.0.1 or localhost (a DNS rebinding attempt from a web page). */
  AGENT_ERR_HOST_NOT_ALLOWED: 403,
} as const;

/** One of the local API's stable error codes. */
export type AgentApiErrorCode = keyof typeof AgentApiErrorCodes;

/**
 * An error of the agent's local API (built by sync-core's `defineErrorCatalogue`). Check `code`, never the
 * message; `AgentApiError.is(e, code)` is its guard.
 */
export class AgentApiError extends defineErrorCatalogue('AgentApiError', AgentApiErrorCodes) {}
