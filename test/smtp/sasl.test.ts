import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSasl, type Ask } from '../../src/smtp/sasl.js';
import { reply } from '../../src/smtp/reply.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const backend = { verify: async (u: string, p: string) => u === 'alice' && p === 'pw' };
/** Answers challenges from a script and records them. */
function script(...answers: (string | ReturnType<typeof reply>)[]): { ask: Ask; asked: string[] } {
  const asked: string[] = [];
  return { asked, ask: async (c) => { asked.push(c); return answers.shift() ?? reply(501, '7.0', 'Authentication aborted'); } };
}

test('PLAIN: initial response, or an empty challenge first; authzid must be the user', async () => {
  assert.deepEqual(await runSasl('PLAIN', b64('\0alice\0pw'), script().ask, backend), { kind: 'ok', username: 'alice' });
  const s = script(b64('\0alice\0pw'));
  assert.deepEqual(await runSasl('PLAIN', undefined, s.ask, backend), { kind: 'ok', username: 'alice' });
  assert.deepEqual(s.asked, ['']);
  assert.deepEqual(await runSasl('PLAIN', b64('alice\0alice\0pw'), script().ask, backend), { kind: 'ok', username: 'alice' });
  assert.deepEqual(await runSasl('PLAIN', b64('bob\0alice\0pw'), script().ask, backend), { kind: 'failed' });   // acting for another user
  assert.deepEqual(await runSasl('PLAIN', b64('\0alice\0nope'), script().ask, backend), { kind: 'failed' });
  assert.deepEqual(await runSasl('PLAIN', b64('\0\0pw'), script().ask, backend), { kind: 'failed' });          // empty user
  const bad = await runSasl('PLAIN', '!!!', script().ask, backend);
  assert.equal(bad.kind === 'error' && bad.reply.code, 501);
  const two = await runSasl('PLAIN', b64('alice\0pw'), script().ask, backend);                              // not three fields
  assert.equal(two.kind === 'error' && two.reply.code, 501);
});

test('LOGIN: Username: then Password:, base64; an abort ends the exchange', async () => {
  const s = script(b64('alice'), b64('pw'));
  assert.deepEqual(await runSasl('LOGIN', undefined, s.ask, backend), { kind: 'ok', username: 'alice' });
  assert.deepEqual(s.asked, ['VXNlcm5hbWU6', 'UGFzc3dvcmQ6']);
  const withInitial = script(b64('pw'));
  assert.deepEqual(await runSasl('LOGIN', b64('alice'), withInitial.ask, backend), { kind: 'ok', username: 'alice' });
  assert.deepEqual(withInitial.asked, ['UGFzc3dvcmQ6']);
  const aborted = await runSasl('LOGIN', undefined, script(reply(501, '7.0', 'Authentication aborted')).ask, backend);
  assert.equal(aborted.kind === 'error' && aborted.reply.text[0], 'Authentication aborted');
  assert.deepEqual(await runSasl('LOGIN', undefined, script(b64('alice'), b64('wrong')).ask, backend), { kind: 'failed' });
});
