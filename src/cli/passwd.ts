/**
 * @module cli/passwd
 * `mxguard passwd add|remove USER [-c|--config DIR]`: maintains the SASL user file named by
 * `mxguard_passwd_file` (embedded default `./var/passwd`), in the spirit of saslpasswd2(8).
 *
 * The password comes from the first line of standard input when that is not a terminal (for
 * scripts: `printf '%s\n' "$pw" | mxguard passwd add alice`), otherwise it is asked for twice on
 * the terminal without echo.
 *
 * Exit status: 0 done; 1 not done (unknown user on remove, configuration or file error,
 * passwords that differ, interrupted); 2 invalid input (user name, empty password).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { addUser, PasswdError, passwordProblem, removeUser, userProblem } from '../auth/index.js';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/types.js';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** A failure the command reports in one line and turns into an exit status. */
class CommandFailure extends Error {
  constructor(message: string, readonly exitCode: number) { super(message); }
}

/** Longest first line read from a pipe; a password file this size is a mistake, not a password. */
const MAX_STDIN_LINE = 64 * 1024;

/** readFirstLine - the first line of a non-terminal stream, without its LF or CRLF. */
async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    const nl = b.indexOf(0x0a);
    chunks.push(nl >= 0 ? b.subarray(0, nl) : b);
    size += b.length;
    if (nl >= 0) break;
    if (size > MAX_STDIN_LINE) throw new CommandFailure(`password on standard input is longer than ${MAX_STDIN_LINE} bytes`, EXIT_USAGE);
  }
  let line = Buffer.concat(chunks);
  if (line.at(-1) === 0x0d) line = line.subarray(0, -1);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(line);
  } catch {
    throw new CommandFailure('password on standard input is not valid UTF-8', EXIT_USAGE);
  }
}

/** promptHidden - asks on the terminal with echo off (raw mode); prompt and newline go to stderr. */
function promptHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolvePw, reject) => {
    let pw = '';
    const finish = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (err) reject(err); else resolvePw(pw);
    };
    const onData = (text: string) => {
      for (const ch of text) {
        switch (ch) {
          case '\r': case '\n': finish(); return;
          case '\u0003': finish(new CommandFailure('interrupted', EXIT_FAILED)); return;       // ^C
          case '\u0004': if (pw === '') { finish(new CommandFailure('no password given', EXIT_USAGE)); return; } break; // ^D
          case '\u007f': case '\b': pw = [...pw].slice(0, -1).join(''); break;                // erase
          case '\u0015': pw = ''; break;                                                       // ^U kill line
          default: pw += ch;
        }
      }
    };
    input.on('data', onData);
  });
}

async function readPassword(): Promise<string> {
  let pw: string;
  if (!process.stdin.isTTY) {
    pw = await readFirstLine(process.stdin);
    if (pw === '') throw new CommandFailure('empty password on standard input (the first line is the password)', EXIT_USAGE);
  } else {
    pw = await promptHidden('Password: ');
    const again = await promptHidden('Again (for verification): ');
    if (pw !== again) throw new CommandFailure('the two passwords differ; nothing changed', EXIT_FAILED);
  }
  const problem = passwordProblem(pw);
  if (problem) throw new CommandFailure(`invalid password: ${problem}`, EXIT_USAGE);
  return pw;
}

/** passwdFile - the configured file, absolute (relative paths are relative to the working directory). */
function passwdFile(configDir: string | undefined): string {
  const { config } = loadConfig({ dir: configDir });
  const file = config.get('mxguard_passwd_file').trim();
  if (file === '') throw new CommandFailure('mxguard_passwd_file is empty', EXIT_FAILED);
  return resolve(file);
}

function checkUserArg(user: string): void {
  const problem = userProblem(user);
  if (problem) throw new CommandFailure(`invalid user name ${JSON.stringify(user)}: ${problem}`, EXIT_USAGE);
}

async function add(user: string, configDir: string | undefined): Promise<string> {
  checkUserArg(user);
  const file = passwdFile(configDir);
  const password = await readPassword();
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const result = await addUser(file, user, password);
  return `${result} user ${user} ${result === 'added' ? 'to' : 'in'} ${file}`;
}

async function remove(user: string, configDir: string | undefined): Promise<string> {
  checkUserArg(user);
  const file = passwdFile(configDir);
  if (!(await removeUser(file, user))) throw new CommandFailure(`no user ${user} in ${file}`, EXIT_FAILED);
  return `removed user ${user} from ${file}`;
}

/** run - one subcommand: prints its result, or its error with an exit status. */
async function run(name: string, fn: () => Promise<string>): Promise<void> {
  try {
    process.stdout.write(`${await fn()}\n`);
  } catch (e) {
    let code = EXIT_FAILED;
    if (e instanceof CommandFailure) code = e.exitCode;
    else if (e instanceof PasswdError) code = e.kind.startsWith('invalid-') ? EXIT_USAGE : EXIT_FAILED;
    else if (!(e instanceof ConfigError) && !(e instanceof Error && 'code' in e)) throw e;  // a bug: let it show
    process.stderr.write(`mxguard passwd ${name}: ${(e as Error).message}\n`);
    process.exitCode = code;
  }
}

/** `--config` given to the subcommand, or to the program when main.ts declares it there. */
function configDir(cmd: Command): string | undefined {
  const v = cmd.optsWithGlobals()['config'];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** registerPasswdCommand - adds `passwd add|remove USER [--config DIR]` to the program. */
export function registerPasswdCommand(program: Command): Command {
  const passwd = program
    .command('passwd')
    .description('maintain the SASL user file for AUTH PLAIN/LOGIN (mxguard_passwd_file)');
  const exitHelp = `
The password is the first line of standard input when that is not a terminal;
otherwise it is asked for twice without echo.

Exit status: 0 done, 1 not done (unknown user, configuration or file error),
2 invalid user name or password.`;
  passwd
    .command('add')
    .description('add a user, or set the password of an existing one')
    .argument('<user>', 'SASL user name (no ":", white space or control characters)')
    .option('-c, --config <dir>', 'directory holding main.cf (default: the embedded defaults)')
    .addHelpText('after', exitHelp)
    .action(async (user: string, _opts: unknown, cmd: Command) => run('add', () => add(user, configDir(cmd))));
  passwd
    .command('remove')
    .description('remove a user')
    .argument('<user>', 'SASL user name')
    .option('-c, --config <dir>', 'directory holding main.cf (default: the embedded defaults)')
    .addHelpText('after', exitHelp)
    .action(async (user: string, _opts: unknown, cmd: Command) => run('remove', () => remove(user, configDir(cmd))));
  return passwd;
}
