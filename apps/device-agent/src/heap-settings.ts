/**
 * V8 heap settings for the `backroom-agent` process, applied by `main.ts` before the agent's modules load.
 * Library callers of `createAgent` (POS software in its own Node process) keep their own settings: this
 * module is imported by `main.ts` only.
 *
 * Why: a terminal's agent is idle nearly all the time. V8 grows the young generation (two semi-spaces)
 * from 1 MB up to 16 MB each under the allocation burst of start-up and the first sync, and an idle
 * process does not shrink it again: measured idle after a 500-product sync, new space held 32 MB (12 MB
 * of it dead objects) beside an old generation of 17.5 MB, in an RSS of 96–99 MB. With this setting new
 * space stays at 2 MB, the old generation grows to about 25 MB (objects promoted sooner) and the RSS is
 * 84–86 MB.
 *
 * The trade-off: with the semi-spaces kept at their initial 1 MB, a burst (the first sync of a large
 * catalogue, a long outbox after an outage) runs more, smaller scavenges and promotes more short-lived
 * objects to the old generation. On the bench's 500-product first sync the agent started and synced in
 * 0.9–1.5 s with the setting against 1.2–1.6 s without (no measurable cost); the 100k-change catch-up
 * bench runs the agent in-process through `createAgent` and is not affected.
 * Set `BACKROOM_AGENT_V8_DEFAULTS=1` to keep V8's defaults (for example when measuring that trade-off),
 * and any `--*semi-space*` flag in `NODE_OPTIONS` or on node's command line wins over this one.
 */
import { setFlagsFromString } from 'node:v8';

/** The flag: the young generation grows by a factor of 1, i.e. stays at its initial size. */
export const YOUNG_GENERATION_FLAG = '--semi-space-growth-factor=1';

/**
 * Whether the caller already chose young-generation settings (node flags or NODE_OPTIONS) or asked for
 * V8's defaults; then {@link applyHeapSettings} leaves V8 alone.
 */
export function heapSettingsChosenElsewhere(
  execArgv: readonly string[] = process.execArgv,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env.BACKROOM_AGENT_V8_DEFAULTS === '1') return true;
  const mentions = (s: string) => /semi[-_]space/.test(s);
  return execArgv.some(mentions) || mentions(env.NODE_OPTIONS ?? '');
}

/** Applies {@link YOUNG_GENERATION_FLAG} unless {@link heapSettingsChosenElsewhere}. */
export function applyHeapSettings(): void {
  if (!heapSettingsChosenElsewhere()) setFlagsFromString(YOUNG_GENERATION_FLAG);
}
