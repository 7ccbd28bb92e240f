/**
 * @module engine/restrictions/tls
 * Client certificate restrictions (postconf(5) permit_tls_clientcerts,
 * permit_tls_all_clientcerts, check_ccert_access; smtpd_check.c permit_tls_clientcerts(),
 * check_ccert_access()). Postfix answers DUNNO when the client presented no certificate,
 * and warns when it never asks for one (smtpd_tls_ask_ccert = no). mxguard does not request
 * client certificates yet and the transaction context carries none, so these always answer
 * DUNNO, saying why; they are declared unavailable so that configurations naming them are
 * warned about.
 */
import { dunno } from '../outcome.js';
import type { Outcome } from '../types.js';
import { defineRestriction, type RestrictionEnv } from './define.js';
import { badTableArg } from './table-arg.js';

const UNAVAILABLE = 'needs client certificates (mxguard does not request them yet)';

function noCertificate(env: RestrictionEnv): Outcome {
  return dunno(env.tx.tls ? 'no client certificate (mxguard does not request client certificates yet)' : 'no TLS session, so no client certificate');
}

export const tlsRestrictions = [
  defineRestriction({
    name: 'permit_tls_clientcerts',
    mayPermit: true,
    unavailable: UNAVAILABLE,
    doc: 'Permit a TLS client whose certificate or public-key fingerprint is listed in $relay_clientcerts.',
    evaluate: (env) => noCertificate(env),
  }),
  defineRestriction({
    name: 'permit_tls_all_clientcerts',
    mayPermit: true,
    unavailable: UNAVAILABLE,
    doc: 'Permit any TLS client with a certificate that a trusted CA signed (dangerous with a public CA list).',
    evaluate: (env) => noCertificate(env),
  }),
  defineRestriction({
    name: 'check_ccert_access',
    args: 1,
    mayPermit: true,
    unavailable: UNAVAILABLE,
    doc: 'Look up the client certificate fingerprint, then its public-key fingerprint, in an access(5) table (reply class "Client certificate").',
    evaluate(env, args) {
      // `{ type:table, { search_order = … } }` also contains the table's colon.
      return badTableArg('check_ccert_access', args[0]!) ?? noCertificate(env);
    },
  }),
];
