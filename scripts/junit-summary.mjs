#!/usr/bin/env node
// Prints ONE line `N passed, N failed` (plus `, N skipped` when any were skipped) summed over
// one or more test runs, and exits 1 if anything failed.
//
// Usage: node scripts/junit-summary.mjs REPORT.xml:EXIT_CODE [REPORT.xml:EXIT_CODE ...]
//
// For each run (a JUnit report written by vitest and the exit code of the command that ran it):
// - every <testcase> counts once: failed if it has a <failure> or <error> child, skipped if it has
//   <skipped>, else passed;
// - a missing or unreadable report means the command crashed before reporting: 1 failed;
// - a non-zero exit code with no failing testcase (a build error after a stale report, an
//   unhandled error outside any test, no test files found...) also counts as 1 failed, so the
//   line never says `0 failed` for a run that failed.
// Explanations go to stderr; stdout holds only the summary line.
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Counts testcases in a JUnit XML string. Exported for reuse; pure. */
export function countJUnit(xml) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  // Text content is XML-escaped, so a literal `<testcase` only appears as an element.
  const re = /<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const body = m[2] ?? '';
    if (/<(failure|error)\b/.test(body)) failed++;
    else if (/<skipped\b/.test(body)) skipped++;
    else passed++;
  }
  return { passed, failed, skipped };
}

function main(args) {
  if (args.length === 0) {
    console.error('usage: junit-summary.mjs REPORT.xml:EXIT_CODE [...]');
    process.exit(2);
  }
  const total = { passed: 0, failed: 0, skipped: 0 };
  for (const arg of args) {
    const i = arg.lastIndexOf(':');
    const file = i > 0 ? arg.slice(0, i) : arg;
    const code = i > 0 ? Number(arg.slice(i + 1)) : 0;
    let run;
    try {
      const xml = readFileSync(file, 'utf8');
      if (!/<testsuites\b/.test(xml) || !/<\/testsuites>/.test(xml)) throw new Error('incomplete JUnit report');
      run = countJUnit(xml);
    } catch (e) {
      console.error(`junit-summary: ${file}: no usable report (${e.message}); counting the run as 1 failed`);
      run = { passed: 0, failed: 1, skipped: 0 };
    }
    if (code !== 0 && run.failed === 0) {
      console.error(`junit-summary: ${file}: the test command exited ${code} with no failing test; counting 1 failed`);
      run.failed = 1;
    }
    total.passed += run.passed;
    total.failed += run.failed;
    total.skipped += run.skipped;
  }
  const skipped = total.skipped > 0 ? `, ${total.skipped} skipped` : '';
  console.log(`${total.passed} passed, ${total.failed} failed${skipped}`);
  process.exit(total.failed > 0 ? 1 : 0);
}

const invoked = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : '';
if (import.meta.url === invoked) main(process.argv.slice(2));
