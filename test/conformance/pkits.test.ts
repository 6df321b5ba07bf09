import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { notApplicableReason, pkitsVectors, runPkitsVector } from './pkits.js';

const recorded: Record<string, boolean> = JSON.parse(readFileSync(new URL('./pkits-not-applicable.json', import.meta.url), 'utf8'));
const vectors = pkitsVectors();
const applicable = vectors.filter((v) => !notApplicableReason(v.Name));
const outside = vectors.filter((v) => notApplicableReason(v.Name));

describe('NIST PKITS', () => {
  it('runs all 249 vectors', () => {
    expect(vectors).toHaveLength(249);
    expect(Object.keys(recorded).sort()).toEqual(outside.map((v) => v.Name).sort());
  });

  it.each(applicable.map((v) => [v.Name, v] as const))('%s', async (_name, vector) => {
    const outcome = await runPkitsVector(vector);
    expect(outcome.valid, outcome.message).toBe(vector.ShouldValidate);
  });

  it.each(outside.map((v) => [v.Name, v] as const))('outside the profile: %s', async (name, vector) => {
    const outcome = await runPkitsVector(vector);
    expect(outcome.valid, `${notApplicableReason(name)}; ${outcome.message ?? 'accepted'}`).toBe(recorded[name]);
  });
});
