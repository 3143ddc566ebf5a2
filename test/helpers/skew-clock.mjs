// Preloaded into a child process (node --import) to simulate a terminal whose wall clock is wrong:
// Date.now() is shifted by BACKROOM_TEST_SKEW_MS. The monotonic clock is left alone, as on a real device.
const skew = Number(process.env.BACKROOM_TEST_SKEW_MS ?? 0);
if (skew) {
  const real = Date.now;
  Date.now = () => real() + skew;
}
