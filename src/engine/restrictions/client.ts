/**
 * @module engine/restrictions/client
 * Client restrictions that grant trust (postconf(5) smtpd_client_restrictions): the client's
 * network, or a successful SMTP AUTH.
 */
import { dunno, permit } from '../outcome.js';
import { defineRestriction } from './define.js';

export const clientRestrictions = [
  defineRestriction({
    name: 'permit_mynetworks',
    mayPermit: true,
    doc: 'Permit when the client address (or verified name) matches $mynetworks.',
    evaluate(env) {
      const { address, name } = env.tx.client;
      const m = env.facts.mynetworks().match(address, name);
      if (!m) return dunno(`client ${address} is not in mynetworks`);
      if (m.negated) return dunno(`client ${address} is excluded from mynetworks by !${m.pattern}`);
      return permit(`client ${address} matches mynetworks pattern ${m.pattern}`);
    },
  }),
  defineRestriction({
    name: 'permit_sasl_authenticated',
    mayPermit: true,
    doc: 'Permit when the client authenticated with SMTP AUTH (RFC 4954), except the anonymous mechanism.',
    evaluate(env) {
      const sasl = env.tx.sasl;
      if (!sasl) return dunno('client is not authenticated');
      // smtpd_sasl_proto.c permit_sasl_auth(): an anonymous login grants nothing.
      if (sasl.method.toUpperCase() === 'ANONYMOUS') return dunno('anonymous SASL login grants nothing');
      return permit(`authenticated as ${sasl.username} (${sasl.method})`);
    },
  }),
];
