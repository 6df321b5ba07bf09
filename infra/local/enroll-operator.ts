import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createOperatorEnrollment, MAX_ENROLLMENT_MINUTES } from '../../functions/services/operators.js';

/**
 * `npm run operator:enroll -- --name NAME [--minutes 15] [--operator op_...]`:
 * create an operator (or a new key enrollment for an existing one) and print
 * a one-time link where they register a WebAuthn key. Whoever can write to
 * the service table may run it; nobody else can create operators.
 *
 * Locally it finds the running service through <DATA_DIR>/service.json,
 * written by `npm start`. In AWS, set TABLE_NAME, PUBLIC_ORIGIN and the usual
 * AWS credentials instead.
 */
const usage = `usage: npm run operator:enroll -- --name NAME [--minutes 1-${MAX_ENROLLMENT_MINUTES}] [--operator op_...]`;

/** Create the enrollment that argv describes. Returns the exit status: 0 done, 1 failed, 2 invalid invocation. */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { name: { type: 'string' }, minutes: { type: 'string', default: '15' }, operator: { type: 'string' } } }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  if (!values.name && !values.operator) {
    console.error(`give the new operator's name with --name, or an existing operator with --operator\n${usage}`);
    return 2;
  }
  const minutes = /^\d+$/.test(values.minutes!) ? Number(values.minutes) : Number.NaN;
  if (!(minutes >= 1 && minutes <= MAX_ENROLLMENT_MINUTES)) {
    console.error(`--minutes ${JSON.stringify(values.minutes)} is not a whole number of minutes from 1 to ${MAX_ENROLLMENT_MINUTES}\n${usage}`);
    return 2;
  }

  if (!process.env.DYNAMODB_ENDPOINT && !process.env.AWS_REGION) {
    const file = join(resolve(process.env.DATA_DIR ?? '.data'), 'service.json');
    try {
      const running = JSON.parse(await readFile(file, 'utf8')) as { dynamoEndpoint: string; origin: string; tableName: string };
      process.env.DYNAMODB_ENDPOINT = running.dynamoEndpoint;
      process.env.PUBLIC_ORIGIN ??= running.origin;
      process.env.TABLE_NAME ??= running.tableName;
    } catch {
      console.error(`cannot read ${file}; start the service with npm start first (or set DYNAMODB_ENDPOINT, or AWS_REGION for AWS)`);
      return 1;
    }
  }

  if (!process.env.PUBLIC_ORIGIN) {
    // The link must name the running service's origin, also when the table was given explicitly.
    const file = join(resolve(process.env.DATA_DIR ?? '.data'), 'service.json');
    const running = await readFile(file, 'utf8').then((text) => JSON.parse(text) as { origin?: string }, () => undefined);
    if (running?.origin) process.env.PUBLIC_ORIGIN = running.origin;
  }

  try {
    const enrollment = await createOperatorEnrollment({ name: values.name, operatorSub: values.operator, minutes });
    console.log(`operator      ${enrollment.operator.name} (${enrollment.operator.sub})
valid until   ${enrollment.expiresAt.toISOString()}
one-time link (give it to the operator only; it registers their security key):
${enrollment.link}`);
  } catch (error) {
    console.error(`enrollment failed: ${(error as Error).message}`);
    return 1;
  }
  return 0;
}

const isEntryPoint = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!);
if (isEntryPoint) process.exitCode = await main(process.argv.slice(2));
