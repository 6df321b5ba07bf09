import { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { generateProviderKeys, type ProviderKeys } from '../../oidc/keys.js';

/**
 * Staged rotation of the provider keys stored in Secrets Manager. oidc-provider
 * signs with the first key of each algorithm in jwks.keys and the first cookie
 * key, and publishes or accepts all of them, so a rotation goes:
 *
 *   stage    add a new key of each algorithm and a new cookie key at the END:
 *            published and accepted, not yet used to sign;
 *   promote  move the new keys to the front: they sign from now on, the old
 *            ones still verify tokens and cookies issued before;
 *   retire   drop every key but the newest of each algorithm and the newest
 *            cookie key, once the old tokens and sessions have expired.
 *
 * After each step the functions must reload the secret (they read it once per
 * instance), which `cdk deploy -c providerKeysGeneration=<n>` forces.
 */
export type KeyCommand = 'init' | 'stage' | 'promote' | 'retire' | 'show';

/** Key material as stored, with the number of keys staged but not yet signing. */
export interface StoredKeys extends ProviderKeys {
  /** Number of keys at the end of jwks.keys and cookieKeys added by `stage` and not yet promoted. */
  staged?: number;
}

const isEmpty = (keys: StoredKeys) => keys.jwks.keys.length === 0 && keys.cookieKeys.length === 0;

/** Apply one rotation step to a key set and return the new set; throws when the step does not fit the current state. */
export async function applyKeyCommand(command: Exclude<KeyCommand, 'show'>, current: StoredKeys): Promise<StoredKeys> {
  if (command === 'init') {
    if (!isEmpty(current)) throw new Error('the secret already contains keys; use stage, promote and retire to rotate them');
    return { ...(await generateProviderKeys()), staged: 0 };
  }
  if (isEmpty(current)) throw new Error(`the secret contains no keys yet; run init before ${command}`);
  if (command === 'stage') {
    if (current.staged) throw new Error('new keys are already staged; run promote (or retire after promote) first');
    const fresh = await generateProviderKeys();
    return {
      jwks: { keys: [...current.jwks.keys, ...fresh.jwks.keys] },
      cookieKeys: [...current.cookieKeys, ...fresh.cookieKeys],
      staged: fresh.jwks.keys.length,
    };
  }
  if (command === 'promote') {
    const staged = current.staged ?? 0;
    if (!staged) throw new Error('no keys are staged; run stage, wait for every instance to reload, then promote');
    const signing = current.jwks.keys.length - staged;
    return {
      jwks: { keys: [...current.jwks.keys.slice(signing), ...current.jwks.keys.slice(0, signing)] },
      // stage added one cookie key at the end; it becomes the signing one.
      cookieKeys: [current.cookieKeys[current.cookieKeys.length - 1], ...current.cookieKeys.slice(0, -1)],
      staged: 0,
    };
  }
  if (current.staged) throw new Error('keys are staged but not promoted; retiring now would drop the keys that sign');
  const newestByAlg = new Map<string, (typeof current.jwks.keys)[number]>();
  for (const key of current.jwks.keys) if (!newestByAlg.has(String(key.alg))) newestByAlg.set(String(key.alg), key);
  return { jwks: { keys: [...newestByAlg.values()] }, cookieKeys: current.cookieKeys.slice(0, 1), staged: 0 };
}

/** Describe a key set without any key material: algorithms, key ids and counts. */
export function describeKeys(keys: StoredKeys): string {
  const jwks = keys.jwks.keys.map((key, i) => `${i === 0 ? '*' : ' '} ${key.alg} ${key.kid}`).join('\n');
  return `${jwks}\ncookie keys: ${keys.cookieKeys.length}, staged keys: ${keys.staged ?? 0}`;
}

async function main(): Promise<void> {
  const [command, secretArn] = process.argv.slice(2) as [KeyCommand | undefined, string | undefined];
  const commands: KeyCommand[] = ['init', 'stage', 'promote', 'retire', 'show'];
  if (!command || !commands.includes(command) || !secretArn) {
    console.error(`usage: npm run keys -- <${commands.join('|')}> <ProviderKeysSecretArn output of the service stack>`);
    process.exit(2);
  }
  const client = new SecretsManagerClient({});
  const result = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  const current = JSON.parse(result.SecretString ?? '{"jwks":{"keys":[]},"cookieKeys":[]}') as StoredKeys;
  if (command === 'show') {
    console.log(describeKeys(current));
    return;
  }
  const next = await applyKeyCommand(command, current);
  await client.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: JSON.stringify(next) }));
  console.log(`${command}: stored the new key set (keys marked * sign)\n${describeKeys(next)}`);
  console.log('now restart the functions so they load it: cdk deploy -c stage=<stage> -c providerKeysGeneration=<next number>');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: Error) => {
    console.error(`keys command failed: ${error.message}`);
    process.exit(1);
  });
}
