/** The CI closing line depends on scripts/junit-summary.mjs: check its counting and exit codes. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
// @ts-expect-error plain .mjs script without type declarations
import { countJUnit } from '../scripts/junit-summary.mjs';

const SCRIPT = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'scripts', 'junit-summary.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'dl-junit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const REPORT = `<?xml version="1.0" encoding="UTF-8" ?>
<testsuites name="vitest tests" tests="5" failures="2" errors="0" time="0.1">
    <testsuite name="a.test.ts" tests="5" failures="2" errors="0" skipped="1" time="0.1">
        <testcase classname="a.test.ts" name="passes" time="0.001">
        </testcase>
        <testcase classname="a.test.ts" name="logs &lt;testcase&gt; text" time="0.001">
            <system-out>
&lt;testcase name=&quot;fake&quot;&gt;&lt;failure/&gt;
            </system-out>
        </testcase>
        <testcase classname="a.test.ts" name="fails" time="0.001">
            <failure message="expected 1 to be 2" type="AssertionError">
AssertionError: expected 1 to be 2
            </failure>
        </testcase>
        <testcase classname="a.test.ts" name="errors" time="0"><error message="boom"/></testcase>
        <testcase classname="a.test.ts" name="skipped" time="0">
            <skipped/>
        </testcase>
    </testsuite>
</testsuites>
`;

function summary(...args: string[]) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { line: r.stdout.trim(), status: r.status };
}

describe('junit-summary', () => {
  test('counts testcases, failures/errors and skips', () => {
    expect(countJUnit(REPORT)).toEqual({ passed: 2, failed: 2, skipped: 1 });
  });

  test('prints one line and exits 1 when a test failed', () => {
    const file = join(tmp, 'r.xml');
    writeFileSync(file, REPORT);
    expect(summary(`${file}:1`)).toEqual({ line: '2 passed, 2 failed, 1 skipped', status: 1 });
  });

  test('all passing: no skipped part, exit 0', () => {
    const file = join(tmp, 'ok.xml');
    writeFileSync(file, '<testsuites><testsuite><testcase name="a"></testcase><testcase name="b"/></testsuite></testsuites>');
    expect(summary(`${file}:0`)).toEqual({ line: '2 passed, 0 failed', status: 0 });
  });

  test('a missing report (crash before reporting) is 0 passed, 1 failed', () => {
    expect(summary(`${join(tmp, 'missing.xml')}:1`)).toEqual({ line: '0 passed, 1 failed', status: 1 });
  });

  test('a failed command with no failing test still counts 1 failed', () => {
    const file = join(tmp, 'ok2.xml');
    writeFileSync(file, '<testsuites><testsuite><testcase name="a"></testcase></testsuite></testsuites>');
    expect(summary(`${file}:1`)).toEqual({ line: '1 passed, 1 failed', status: 1 });
  });

  test('sums several runs', () => {
    const a = join(tmp, 'a.xml');
    writeFileSync(a, '<testsuites><testsuite><testcase name="a"></testcase></testsuite></testsuites>');
    expect(summary(`${a}:0`, `${a}:0`, `${join(tmp, 'none.xml')}:2`)).toEqual({ line: '2 passed, 1 failed', status: 1 });
  });
});
