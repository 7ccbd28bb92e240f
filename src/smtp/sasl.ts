/**
 * @module smtp/sasl
 * The SASL exchange of SMTP AUTH (RFC 4954) for the PLAIN (RFC 4616) and LOGIN mechanisms,
 * apart from the session: it asks for responses through `ask`, decodes them, and checks the
 * credentials with a backend. The session owns the command's preconditions, counting and
 * logging. A backend is anything that can verify a user and password (the password file now;
 * Dovecot's auth socket is another such backend).
 */
import { reply, type Reply } from './reply.js';

export const SASL_MECHANISMS = ['PLAIN', 'LOGIN'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface SaslBackend {
  verify(user: string, password: string): Promise<boolean>;
}

/** A client response line (without CRLF), or the reply that ends the exchange (abort, I/O). */
export type Ask = (challenge: string) => Promise<string | Reply>;

export type SaslResult =
  | { readonly kind: 'ok'; readonly username: string }
  | { readonly kind: 'failed' }              // wrong credentials: 535, logged by the session
  | { readonly kind: 'error'; readonly reply: Reply };

const cannotDecode = () => reply(501, '5.2', 'Cannot decode response');

/** RFC 4954 §4: base64, or "=" for an empty initial response. */
function decode(b64: string): string | undefined {
  if (b64 === '=') return '';
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
  return Buffer.from(b64, 'base64').toString('utf8');
}

export function isSaslMechanism(m: string): m is SaslMechanism {
  return (SASL_MECHANISMS as readonly string[]).includes(m);
}

export async function runSasl(mech: SaslMechanism, initial: string | undefined, ask: Ask, backend: SaslBackend): Promise<SaslResult> {
  let user: string | undefined, pass: string | undefined;
  if (mech === 'PLAIN') {
    const resp = initial ?? await ask('');
    if (typeof resp !== 'string') return { kind: 'error', reply: resp };
    const text = decode(resp);
    if (text === undefined) return { kind: 'error', reply: cannotDecode() };
    // RFC 4616 §2: [authzid] NUL authcid NUL passwd; acting for another user is not offered.
    const parts = text.split('\0');
    if (parts.length !== 3) return { kind: 'error', reply: cannotDecode() };
    [, user, pass] = parts;
    if (parts[0] && parts[0] !== user) return { kind: 'failed' };
  } else {
    const u = initial ?? await ask('VXNlcm5hbWU6'); // "Username:"
    if (typeof u !== 'string') return { kind: 'error', reply: u };
    user = decode(u);
    if (user === undefined) return { kind: 'error', reply: cannotDecode() };
    const p = await ask('UGFzc3dvcmQ6'); // "Password:"
    if (typeof p !== 'string') return { kind: 'error', reply: p };
    pass = decode(p);
    if (pass === undefined) return { kind: 'error', reply: cannotDecode() };
  }
  if (!user || pass === undefined || !(await backend.verify(user, pass))) return { kind: 'failed' };
  return { kind: 'ok', username: user };
}
