/**
 * Shared pieces of the mailauth suites: a DKIM key made for the run, signing, the test zone
 * (SPF, DKIM keys, DMARC records under *.auth.test), and a Config that asks the loopback DNS
 * server only.
 */
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import type { ZoneRecord } from '../helpers/dns-server.js';
import { testConfig } from '../engine/config-helper.js';
import type { Config } from '../../src/config/config.js';

/** One RSA key pair for the whole run (2048 bits: RFC 8301 §3.2). */
export const KEY = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    /** p= of the DKIM key record: the SubjectPublicKeyInfo, base64 (RFC 6376 §3.6.1). */
    publicB64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
})();

/** The key record of `selector` at `domain` (TXT strings longer than 255 are split by the server). */
export function keyRecord(domain: string, selector = 'sel'): ZoneRecord {
  return { name: `${selector}._domainkey.${domain}`, type: 'TXT', data: `v=DKIM1; k=rsa; p=${KEY.publicB64}` };
}

export const txt = (name: string, data: string): ZoneRecord => ({ name, type: 'TXT', data });

/** A message with CRLF line ends. */
export function message(o: { from: string; to?: string; subject?: string; body?: string; extra?: string }): string {
  return `From: <${o.from}>\r\nTo: <${o.to ?? 'alice@example.test'}>\r\nSubject: ${o.subject ?? 'test'}\r\n`
    + `Message-ID: <${Math.random().toString(36).slice(2)}@client.test>\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\n${o.extra ?? ''}\r\n${o.body ?? 'Hello.\r\n'}`;
}

/** The message with a DKIM-Signature: header of `domain` on top (relaxed/relaxed, rsa-sha256). */
export async function signed(text: string, domain: string, selector = 'sel'): Promise<string> {
  // mailauth 4.13 reads the keys from signatureData (its index.d.ts shows them at the top level).
  const opts = { canonicalization: 'relaxed/relaxed', algorithm: 'rsa-sha256', signatureData: [{ signingDomain: domain, selector, privateKey: KEY.privatePem }] };
  const r = await dkimSign(text, opts as unknown as Parameters<typeof dkimSign>[1]);
  if (r.errors.length) throw r.errors[0];
  return r.signatures + text;
}

/** A Config whose resolver asks `server` only, with short timeouts and no memory of failures. */
export function authConfig(server: string, settings: Record<string, string> = {}): Config {
  return testConfig({
    mxguard_dns_servers: server, mxguard_dns_timeout: '1s', mxguard_dns_attempt_timeout: '0.4s',
    mxguard_dns_temporary_cache_ttl: '0', mxguard_dns_cache_size: '0', mxguard_mailauth_timeout: '5s',
    ...settings,
  });
}
