/**
 * @module config/params/mailauth
 * Parameters of the mailauth room: SPF, DKIM and DMARC on inbound mail (see docs/mailauth.md
 * and docs/configuration.md). Defaults annotate only: nothing is rejected, deferred or held
 * until a parameter asks for it. A DNS failure (temperror) can at most defer (RFC 7208 §8.6,
 * RFC 7489 §6.6.2): its parameters do not offer `reject`.
 */
import { p, type ParamDef } from '../types.js';

const PERM = ['annotate', 'reject', 'defer'] as const;
const TEMP = ['annotate', 'defer'] as const;

export const mailauthParams: ParamDef[] = [
  p.bool('mxguard_mailauth_enable', 'yes',
    'Evaluate SPF (at MAIL FROM, for the MAIL FROM and HELO identities), DKIM and DMARC (after DATA) on mail received by smtpd, and add an RFC 8601 Authentication-Results: header whose authserv-id is $myhostname. With "no" nothing is evaluated and no header is added.'),
  p.choice('mxguard_mailauth_trusted_clients', 'annotate', ['annotate', 'enforce', 'skip'],
    'What SASL-authenticated clients and clients in $mynetworks get: "annotate" evaluates and adds the header but never rejects, defers or holds; "enforce" treats them like any other client; "skip" evaluates nothing and adds no header.'),
  p.time('mxguard_mailauth_timeout', '20s',
    'Longest time one SPF evaluation, or the DKIM and DMARC evaluation of one message, may take (all its DNS lookups together). When it runs out the result is temperror.', { min: 1 }),
  p.choice('mxguard_spf_fail_action', 'annotate', PERM,
    'What an SPF "fail" of the MAIL FROM identity does: annotate (header only), reject (550 5.7.23 at MAIL FROM, like policyd-spf) or defer (450 4.7.23).'),
  p.choice('mxguard_spf_softfail_action', 'annotate', PERM,
    'What an SPF "softfail" of the MAIL FROM identity does (RFC 7208 §8.5 advises accepting and marking): annotate, reject (550 5.7.23) or defer (450 4.7.23).'),
  p.choice('mxguard_spf_permerror_action', 'annotate', PERM,
    'What an SPF "permerror" (a broken SPF record) of the MAIL FROM identity does: annotate, reject (550 5.7.24) or defer (450 4.7.24).'),
  p.choice('mxguard_spf_temperror_action', 'annotate', TEMP,
    'What an SPF "temperror" (a DNS failure) of the MAIL FROM or HELO identity does: annotate, or defer (451 4.7.24). Never a reject (RFC 7208 §2.6.7).'),
  p.choice('mxguard_spf_helo_fail_action', 'annotate', PERM,
    'What an SPF "fail" of the HELO identity does (RFC 7208 §2.3): annotate, reject (550 5.7.23 at MAIL FROM) or defer (450 4.7.23).'),
  p.choice('mxguard_dkim_fail_action', 'annotate', PERM,
    'What a message whose DKIM signatures fail and none passes (dkim=fail: a bad signature) does after DATA: annotate, reject (550 5.7.20) or defer (450 4.7.20). A changed body is reported as dkim=neutral (body hash did not verify), as Gmail does, and is not covered. RFC 6376 §6.3 treats a failed signature like no signature: rejecting is rarely right.'),
  p.choice('mxguard_dkim_temperror_action', 'annotate', TEMP,
    'What a message whose only verdicts are DKIM "temperror" (the key could not be fetched) does: annotate, or defer (451 4.4.3).'),
  p.choice('mxguard_dmarc_fail_action', 'annotate', ['annotate', 'reject', 'defer', 'hold', 'policy'],
    'What a DMARC "fail" does after DATA: annotate, reject (550 5.7.1), defer (450 4.7.1), hold (the message waits in the hold queue, like access(5) HOLD), or policy: follow the From: domain\'s published p= (reject rejects, quarantine holds, none annotates), with pct= sampling (RFC 7489 §6.6.4).'),
  p.choice('mxguard_dmarc_temperror_action', 'annotate', TEMP,
    'What a DMARC "temperror" does: annotate, or defer (451 4.4.3). A DMARC fail while SPF or a DKIM signature had a temperror counts as temperror: a DNS failure never proves a forgery.'),
  p.int('mxguard_dkim_min_key_bits', '1024',
    'Smallest RSA key that verifies a DKIM signature; a smaller key gives dkim=policy (RFC 8301 §3.2 requires at least 1024).', { min: 512, max: 8192 }),
];
