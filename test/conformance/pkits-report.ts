/**
 * Run every NIST PKITS path validation vector through the service's
 * validation and write docs/pkits.md (pass counts per section, and each vector
 * outside the service's profile with its reason) and the recorded outcomes of
 * those vectors, which test/conformance/pkits.test.ts asserts.
 *
 *   npx tsx test/conformance/pkits-report.ts
 */
import { writeFileSync } from 'node:fs';
import { notApplicableReason, pkitsVectors, PKITS_VALIDATION_TIME, runPkitsVector, sectionOf } from './pkits.js';

const SECTION_TITLES: Record<string, string> = {
  '4.1': 'Signature verification',
  '4.2': 'Validity periods',
  '4.3': 'Verifying name chaining',
  '4.4': 'Basic certificate revocation',
  '4.5': 'Verifying paths with self-issued certificates',
  '4.6': 'Verifying basic constraints',
  '4.7': 'Key usage',
  '4.8': 'Certificate policies',
  '4.9': 'Require explicit policy',
  '4.10': 'Policy mappings',
  '4.11': 'Inhibit policy mapping',
  '4.12': 'Inhibit any policy',
  '4.13': 'Name constraints',
  '4.14': 'Distribution points',
  '4.15': 'Delta-CRLs',
  '4.16': 'Private certificate extensions',
};

const rows = new Map<string, { total: number; applicable: number; passed: number; notApplicable: number }>();
const notApplicable: { name: string; expected: boolean; actual: boolean; code?: string; reason: string }[] = [];
const failures: string[] = [];
const recorded: Record<string, boolean> = {};

for (const vector of pkitsVectors()) {
  const section = sectionOf(vector.Name);
  const row = rows.get(section) ?? { total: 0, applicable: 0, passed: 0, notApplicable: 0 };
  rows.set(section, row);
  row.total += 1;
  const outcome = await runPkitsVector(vector);
  const reason = notApplicableReason(vector.Name);
  if (reason) {
    row.notApplicable += 1;
    recorded[vector.Name] = outcome.valid;
    notApplicable.push({ name: vector.Name, expected: vector.ShouldValidate, actual: outcome.valid, code: outcome.code, reason });
    continue;
  }
  row.applicable += 1;
  if (outcome.valid === vector.ShouldValidate) row.passed += 1;
  else failures.push(`${vector.Name}: expected ${vector.ShouldValidate ? 'valid' : 'invalid'}, got ${outcome.code ?? 'valid'} ${outcome.message ?? ''}`);
}

const verdict = (valid: boolean) => (valid ? 'valid' : 'invalid');
const totals = [...rows.values()].reduce((sum, row) => ({ total: sum.total + row.total, applicable: sum.applicable + row.applicable, passed: sum.passed + row.passed, notApplicable: sum.notApplicable + row.notApplicable }), { total: 0, applicable: 0, passed: 0, notApplicable: 0 });
const lines = [
  '# NIST PKITS conformance',
  '',
  'The path validation vectors of the NIST Public Key Interoperability Test Suite',
  '(PKITS, certificates "Test Certificates 2011") run through the same code as the',
  'service and `npm run cert -- verify`: the vector\'s first certificate is the only',
  'trust anchor, its CRLs are the only revocation data (fail policy closed), the',
  `validation time is ${PKITS_VALIDATION_TIME.toISOString()}, and only RFC 5280 rules apply`,
  '(usage `path`, without the rules for enterprise certificates). The profile also',
  'allows sha1WithRSAEncryption and DSA, which PKITS uses and CA profiles cannot.',
  '',
  'Regenerate with `npx tsx test/conformance/pkits-report.ts`; `test/conformance/pkits.test.ts`',
  'asserts every vector: applicable ones against their expected result, the others against the outcome recorded below.',
  '',
  '| Section | Title | Vectors | Applicable | Passed | Not applicable |',
  '| --- | --- | ---: | ---: | ---: | ---: |',
  ...[...rows].map(([section, row]) => `| ${section} | ${SECTION_TITLES[section] ?? ''} | ${row.total} | ${row.applicable} | ${row.passed} | ${row.notApplicable} |`),
  `| all | | ${totals.total} | ${totals.applicable} | ${totals.passed} | ${totals.notApplicable} |`,
  '',
  ...(failures.length ? ['## Failing applicable vectors', '', ...failures.map((f) => `- ${f}`), ''] : []),
  '## Vectors outside the service\'s profile',
  '',
  '| Vector | PKITS expects | Service result | Reason |',
  '| --- | --- | --- | --- |',
  ...notApplicable.map((v) => `| ${v.name} | ${verdict(v.expected)} | ${verdict(v.actual)}${v.code ? ` (${v.code})` : ''} | ${v.reason} |`),
  '',
];
writeFileSync('docs/pkits.md', lines.join('\n'));
writeFileSync('test/conformance/pkits-not-applicable.json', `${JSON.stringify(recorded, null, 2)}\n`);
process.stdout.write(`applicable ${totals.applicable}, passed ${totals.passed}, not applicable ${totals.notApplicable}, failures ${failures.length}\n`);
