/**
 * @module config/config
 * The effective configuration: explicit settings from main.cf (and master.cf `-o` overrides),
 * computed host defaults, and the catalogue's defaults, read with `$name` expansion and typed.
 */
import { catalogue } from './catalogue.js';
import { compatDefault } from './compat.js';
import { expand } from './expand.js';
import type { Located } from './parse.js';
import { ConfigError } from './types.js';
import { checkValue, parseBool, parseInteger, parseList, parseTime } from './values.js';

export class Config {
  constructor(
    /** Explicit settings, including user-defined names used only in `$name` expansion. */
    private readonly settings: ReadonlyMap<string, Located<string>>,
    /** Host-derived defaults (myhostname, mydomain, mynetworks, config_directory). */
    private readonly computed: ReadonlyMap<string, string>,
  ) {}

  /** Unexpanded value as postconf shows it. */
  raw(name: string): string | undefined {
    const s = this.settings.get(name);
    if (s) return s.value;
    const c = this.computed.get(name);
    if (c !== undefined) return c;
    if (name !== 'compatibility_level') {
      const old = compatDefault(name, this.get('compatibility_level'));
      if (old !== undefined) return old;
    }
    return catalogue.get(name)?.default;
  }

  /** Where an explicit setting came from, for messages. */
  origin(name: string): Located<string> | undefined { return this.settings.get(name); }
  isExplicit(name: string): boolean { return this.settings.has(name); }
  explicitNames(): string[] { return [...this.settings.keys()]; }

  /** Expanded values: a Config never changes, so each is computed once (hot path of every session). */
  private readonly expanded = new Map<string, string>();

  /** Expanded string value. Asking for an undeclared parameter is a programming error. */
  get(name: string): string {
    const cached = this.expanded.get(name);
    if (cached !== undefined) return cached;
    if (!catalogue.has(name) && !this.settings.has(name)) throw new Error(`parameter not in catalogue: ${name}`);
    try {
      const v = expand(this.raw(name) ?? '', (n) => this.raw(n));
      this.expanded.set(name, v);
      return v;
    } catch (e) {
      const o = this.origin(name);
      if (e instanceof ConfigError) throw new ConfigError(`${name}: ${e.message}`, o?.file, o?.line);
      throw e;
    }
  }

  bool(name: string): boolean { return parseBool(this.get(name)) ?? this.fail(name); }
  int(name: string): number { return parseInteger(this.get(name)) ?? this.fail(name); }
  /** Seconds. */
  time(name: string): number { return parseTime(this.get(name), catalogue.get(name)?.unit) ?? this.fail(name); }
  size(name: string): number { return this.int(name); }
  /** Parsed lists, memoized like `get` (restriction lists are read at every command). */
  private readonly lists = new Map<string, readonly string[]>();
  list(name: string): readonly string[] {
    let l = this.lists.get(name);
    if (!l) { l = Object.freeze(parseList(this.get(name))); this.lists.set(name, l); }
    return l;
  }

  /** A copy with master.cf `-o` overrides applied on top. */
  withOverrides(overrides: ReadonlyMap<string, string>, file: string, line: number): Config {
    const s = new Map(this.settings);
    for (const [k, v] of overrides) s.set(k, { value: v, file, line });
    return new Config(s, this.computed);
  }

  /** Validates every declared parameter's expanded value; throws the first ConfigError. */
  validate(): void {
    for (const def of catalogue.values()) {
      const v = this.get(def.name);
      const err = checkValue(def, v);
      if (err) {
        const o = this.origin(def.name);
        throw new ConfigError(`${def.name}: ${err}`, o?.file, o?.line);
      }
    }
  }

  private fail(name: string): never {
    const o = this.origin(name);
    throw new ConfigError(`${name}: bad value "${this.get(name)}"`, o?.file, o?.line);
  }
}
