/**
 * A minimal command line holding only `passwd`, so its tests do not depend on the full
 * src/cli/main.ts. Run by test/auth/passwd-cli.test.ts through runCli({ entry }).
 */
import { Command } from 'commander';
import { registerPasswdCommand } from '../../src/cli/passwd.js';

const program = new Command('mxguard');
registerPasswdCommand(program);
// `node --test dist/test/` also loads every file under test/ as a test file; with no
// arguments this entry has nothing to do and must not fail that run.
if (process.argv.length > 2) await program.parseAsync(process.argv);
