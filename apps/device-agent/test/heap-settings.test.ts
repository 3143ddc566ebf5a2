import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { heapSettingsChosenElsewhere, YOUNG_GENERATION_FLAG } from '../src/heap-settings.js';

test('the agent keeps V8 young-generation flags chosen on the command line, in NODE_OPTIONS or by env', () => {
  assert.equal(heapSettingsChosenElsewhere([], {}), false);
  assert.equal(heapSettingsChosenElsewhere(['--max-semi-space-size=8'], {}), true);
  assert.equal(heapSettingsChosenElsewhere([], { NODE_OPTIONS: '--semi_space_growth_factor=2' }), true);
  assert.equal(heapSettingsChosenElsewhere([], { BACKROOM_AGENT_V8_DEFAULTS: '1' }), true);
});

test('set at run time as main.ts does, the flag keeps new space small under an allocation burst', () => {
  const burst = (flag: string | undefined) => {
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `const v8 = require('node:v8');
         ${flag ? `v8.setFlagsFromString(${JSON.stringify(flag)});` : ''}
         let keep = [];
         for (let i = 0; i < 400000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 2000) keep = []; }
         process.stdout.write(String(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size));`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    return Number(r.stdout) / 2 ** 20;
  };
  const withFlag = burst(YOUNG_GENERATION_FLAG);
  const without = burst(undefined);
  assert.ok(withFlag <= 4, `new space ${withFlag} MB with ${YOUNG_GENERATION_FLAG}`);
  assert.ok(without > withFlag, `new space ${without} MB without the flag, ${withFlag} MB with it`);
});
