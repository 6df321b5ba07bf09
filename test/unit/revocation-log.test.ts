import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseCertificate } from '../../functions/pki/der.js';
import { StaticRevocationSource } from '../../functions/pki/revocation.js';
import { TrustStore } from '../../functions/pki/trust-store.js';
import { validatePath } from '../../functions/pki/validate.js';
import { createRootCa, issueCertificate, profileWithoutRevocation, tempDir } from '../helpers/pki.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('open fail policy log', () => {
  it('logs an accepted unknown status once a minute per certificate', async () => {
    const ca = await createRootCa(await tempDir(), 'Open Policy CA', 'ec');
    const store = new TrustStore([profileWithoutRevocation('open-ca', 'Open Policy CA', [ca.certPem])], 1);
    const issued = await issueCertificate(ca, { id: 'open-leaf', subject: '/C=CN/O=Example/serialNumber=914403001922038216/CN=Example' });
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    const validate = () => validatePath(parseCertificate(issued.certPem), [], store, { at: new Date(), usage: 'path', revocation: new StaticRevocationSource([]) });
    for (let i = 0; i < 5; i += 1) {
      const validated = await validate();
      expect(validated.revocation[0].status).toBe('unknown-accepted');
    }
    expect(lines.filter((line) => line.includes('accepted by open fail policy'))).toHaveLength(1);
  }, 30_000);
});
