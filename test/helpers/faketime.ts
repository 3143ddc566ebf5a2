/**
 * Runs an agent with its wall clock shifted, as on a terminal whose clock is wrong: Debian's libfaketime
 * (`apt-get install faketime`) when it is installed, else the Date.now() shifter of skew-clock.mjs.
 *
 * The `faketime` command itself forks the program and does not pass SIGTERM on, so a test could not stop
 * the agent cleanly through it: this sets the same environment the command sets (`LD_PRELOAD` of
 * libfaketime, `FAKETIME`) on the agent process itself. `FAKETIME_DONT_FAKE_MONOTONIC=1` keeps
 * CLOCK_MONOTONIC real, as it is on a terminal whose wall clock was set wrong (by default libfaketime
 * shifts the monotonic clock too).
 */
import { existsSync } from 'node:fs';

const LIBS = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/arm-linux-gnueabihf/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
  '/usr/local/lib/faketime/libfaketime.so.1',
];

/** libfaketime's path, or undefined when it is not installed. */
export const LIBFAKETIME = LIBS.find((p) => existsSync(p));

/** Options for `startAgent` that shift the agent's wall clock by `ms` (whole seconds). */
export function shiftedClock(ms: number): { env?: NodeJS.ProcessEnv; clockSkewMs?: number } {
  if (!LIBFAKETIME) return { clockSkewMs: ms };
  const s = Math.round(ms / 1000);
  return {
    env: {
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME: `${s >= 0 ? '+' : ''}${s}`,
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    },
  };
}
