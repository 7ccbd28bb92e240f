/**
 * @module tables/reload
 * The base of every table read from text: it parses once when opened, then notices when the
 * file changes and parses it again, so that an administrator's edit takes effect without a
 * restart (Postfix gets the same effect by restarting daemons whose tables changed, see
 * dict_changed_name(3) and postmap(1) "the daemons pick up the change").
 *
 * - The check is a stat() (inode, size, mtime, ctime), done at most once per second and only
 *   when a lookup happens: no timer keeps the process alive, an idle table costs nothing.
 * - A new version that does not parse (or a file that vanished) is refused: the old contents
 *   stay in service and the problem is reported once per change through tables/warnings. A
 *   configuration error must never turn into "no such key" (that would change routing or
 *   access decisions silently).
 * - refresh() checks now and throws instead of warning: openTable() uses it when a cached table
 *   is opened again, e.g. while a new configuration is being loaded.
 * Inline tables (`cidr:{…}`) have no file and never change.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../config/types.js';
import type { LookupTable } from './types.js';
import { tableWarning } from './warnings.js';

/** Where the text comes from: a file, or text already at hand (inline tables; `file` names it). */
export interface TableSource {
  readonly file: string;
  readonly text?: string;
}

/** How often a lookup may stat the file, in milliseconds. */
export const RELOAD_CHECK_INTERVAL_MS = 1000;

function signatureOf(file: string): string {
  const st = statSync(file, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

export abstract class TextTable<C> implements LookupTable {
  abstract readonly pattern: boolean;
  private contents: C;
  private signature: string | undefined;
  /** Signature of the last version refused, so that it is reported once. */
  private refused: string | undefined;
  private checkedAt = Date.now();

  protected constructor(
    readonly spec: string,
    private readonly source: TableSource,
    private readonly parse: (text: string, file: string) => C,
  ) {
    if (source.text !== undefined) {
      this.contents = parse(source.text, source.file);
      return;
    }
    const { text, signature } = this.read();
    this.contents = parse(text, source.file);
    this.signature = signature;
  }

  /** The file this table reads, or undefined for an inline table. */
  get file(): string | undefined { return this.source.text === undefined ? this.source.file : undefined; }

  lookup(key: string): string | undefined {
    const now = Date.now();
    if (this.source.text === undefined && (now - this.checkedAt >= RELOAD_CHECK_INTERVAL_MS || now < this.checkedAt)) {
      this.checkedAt = now;
      this.reloadIfChanged('warn');
    }
    return this.find(this.contents, key);
  }

  /** refresh - reread the file now if it changed; throws ConfigError when the new text is refused. */
  refresh(): void {
    if (this.source.text === undefined) {
      this.checkedAt = Date.now();
      this.reloadIfChanged('throw');
    }
  }

  /** find - the value for a key in parsed contents. */
  protected abstract find(contents: C, key: string): string | undefined;

  private read(): { text: string; signature: string } {
    try {
      const signature = signatureOf(this.source.file);
      return { text: readFileSync(this.source.file, 'utf8'), signature };
    } catch (e) {
      throw new ConfigError(`cannot read table ${this.spec}: ${(e as Error).message}`);
    }
  }

  private reloadIfChanged(onError: 'warn' | 'throw'): void {
    let signature: string;
    try { signature = signatureOf(this.source.file); } catch (e) {
      return this.refuse('missing', new ConfigError(`cannot read table ${this.spec}: ${(e as Error).message}`), onError);
    }
    if (signature === this.signature) { this.refused = undefined; return; }
    if (signature === this.refused && onError === 'warn') return;
    try {
      const { text, signature: read } = this.read();
      this.contents = this.parse(text, this.source.file);
      this.signature = read;
      this.refused = undefined;
    } catch (e) {
      this.refuse(signature, e, onError);
    }
  }

  private refuse(signature: string, e: unknown, onError: 'warn' | 'throw'): void {
    if (onError === 'throw') throw e;
    if (this.refused === signature) return;
    this.refused = signature;
    tableWarning(`${(e as Error).message}; ${this.spec}: still using the contents loaded before the change`);
  }
}
