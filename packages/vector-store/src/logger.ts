/**
 * The minimal logger vector-store writes to. pino's `Logger` fits it structurally; the package never
 * imports pino so it stays usable on a terminal without it.
 */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything: the default when none is given. */
export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
};
