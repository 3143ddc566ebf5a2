/**
 * The one error factory behind every error catalogue of Backroom (sync-core's `SyncError`, the hub's
 * `HubError`, vector-store's `VectorStoreError`, the device agent's `AgentApiError`), in the spirit of
 * `@fastify/error`'s `createError(code, message, statusCode)`: a package declares its stable codes once,
 * each with the HTTP status it answers with, and gets the class its errors are made of. Every error carries
 * its `code`, its `statusCode`, the context in `details` (never only in the message) and the underlying
 * error in the ES2022 `cause`; `@backroom/sync-core/http` answers any of them the same way.
 */

/**
 * What every catalogued error carries. `@backroom/sync-core/http` turns any error of this shape into
 * `{ "error": { "code", "message", "details"? } }` with `statusCode`.
 */
export interface CataloguedError<Code extends string = string> extends Error {
  /** Stable, documented in docs/errors.md: check it, never the message. */
  readonly code: Code;
  /** The HTTP status the code maps to, from the catalogue. */
  readonly statusCode: number;
  /** The context (ids, sizes, positions); `{}` when there is none. */
  readonly details: Readonly<Record<string, unknown>>;
}

/** The class {@link defineErrorCatalogue} returns: extend it once to name the package's error class. */
export interface CataloguedErrorClass<Code extends string> {
  /**
   * @param code one of the catalogue's codes; `statusCode` follows from it.
   * @param details the context, kept as given.
   * @param cause the underlying error, as the ES2022 `cause` (absent when undefined).
   */
  new (
    code: Code,
    message: string,
    details?: Record<string, unknown>,
    cause?: unknown,
  ): CataloguedError<Code>;
  /**
   * True when `e` is an instance of the class this is called on (`HubError.is(e)`), optionally with the
   * given code.
   */
  is<E extends CataloguedError<Code>>(
    this: abstract new (
      ...args: never[]
    ) => E,
    e: unknown,
    code?: Code,
  ): e is E;
}

/**
 * Builds the error class of one catalogue. `codes` maps each stable code to its HTTP status; `name` becomes
 * every error's `name`. Extend the result with a class of the same name, so that `instanceof` and the
 * `is` guard tell this catalogue's errors from every other's.
 *
 * @example
 * export const HubErrorCodes = { HUB_ERR_DEVICE_NOT_FOUND: 404, HUB_ERR_USAGE: 400 } as const;
 * export class HubError extends defineErrorCatalogue('HubError', HubErrorCodes) {}
 *
 * throw new HubError('HUB_ERR_DEVICE_NOT_FOUND', `no device "${id}"`, { deviceId: id }, cause);
 * if (HubError.is(err, 'HUB_ERR_DEVICE_NOT_FOUND')) reply.code(err.statusCode);
 */
export function defineErrorCatalogue<const Codes extends Readonly<Record<string, number>>>(
  name: string,
  codes: Codes,
): CataloguedErrorClass<keyof Codes & string> {
  type Code = keyof Codes & string;
  return class CataloguedErrorBase extends Error implements CataloguedError<Code> {
    readonly code: Code;
    readonly statusCode: number;
    readonly details: Readonly<Record<string, unknown>>;

    constructor(code: Code, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
      super(message, cause === undefined ? undefined : { cause });
      this.name = name;
      this.code = code;
      this.statusCode = codes[code];
      this.details = details;
    }

    static is<E extends CataloguedError<Code>>(
      this: abstract new (
        ...args: never[]
      ) => E,
      e: unknown,
      code?: Code,
    ): e is E {
      // biome-ignore lint/complexity/noThisInStatic: `this` is the class the guard is called on (HubError.is), not this base.
      return e instanceof this && (code === undefined || e.code === code);
    }
  };
}
