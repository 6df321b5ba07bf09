import type * as pkijs from 'pkijs';
import { certificateDer } from './certificate.js';

export function certificatePem(cert: pkijs.Certificate): string {
  const base64 = Buffer.from(certificateDer(cert)).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${base64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}
