import { generate } from 'selfsigned';

export interface ServerCertificate {
  keyPem: string;
  certPem: string;
}

const ONE_DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A fresh self-signed certificate for 127.0.0.1/localhost. Azure SDK clients refuse to send bearer tokens
 * over plain http, so the emulator has to speak TLS; clients trust this certificate via `tlsOptions.ca`.
 * It is marked as a CA so OpenSSL accepts it as its own trust anchor. Validity uses the wall clock, not the
 * emulator's injectable clock, because the TLS peer checks it against real time.
 */
export async function createServerCertificate(): Promise<ServerCertificate> {
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + ONE_DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { keyPem: pems.private, certPem: pems.cert };
}
