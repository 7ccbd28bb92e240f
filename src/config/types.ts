/**
 * @module config/types
 * The parameter catalogue's shape: every parameter mxguard reads is declared once, with its
 * name (Postfix's spelling where Postfix has the concept), type, default and documentation.
 */

export type ParamType = 'string' | 'bool' | 'int' | 'time' | 'size' | 'list' | 'choice';

export interface ParamDef {
  readonly name: string;
  readonly type: ParamType;
  /** Default as Postfix writes it: may use `$name` expansion. */
  readonly default: string;
  readonly origin: 'postfix' | 'mxguard';
  readonly doc: string;
  /** Inclusive bounds for int/time/size (time in seconds, size in bytes). */
  readonly min?: number;
  readonly max?: number;
  /** Allowed values for `choice`, lower case. */
  readonly choices?: readonly string[];
  /** Default unit of a time value written without one (postconf(5): "s" unless stated). */
  readonly unit?: 's' | 'm' | 'h' | 'd' | 'w';
  /** Where mxguard's default differs from Postfix's, Postfix's default and why. */
  readonly postfixDefault?: string;
}

type Opts = Omit<ParamDef, 'type' | 'name' | 'default' | 'origin' | 'doc'>;

function def(type: ParamType) {
  return (name: string, dflt: string, doc: string, opts: Opts = {}): ParamDef => ({
    name, type, default: dflt, doc, origin: name.startsWith('mxguard_') ? 'mxguard' : 'postfix', ...opts,
  });
}

export const p = {
  string: def('string'),
  bool: def('bool'),
  int: def('int'),
  time: def('time'),
  size: def('size'),
  list: def('list'),
  choice: (name: string, dflt: string, choices: readonly string[], doc: string, opts: Opts = {}) =>
    def('choice')(name, dflt, doc, { ...opts, choices }),
};

/** A configuration problem tied to a place in a file; start-up stops on it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(message: string, readonly file?: string, readonly line?: number) {
    super(file ? `${file}${line ? `:${line}` : ''}: ${message}` : message);
  }
}

/** A note about the configuration that does not stop start-up (e.g. an unknown parameter). */
export interface ConfigWarning {
  readonly file?: string;
  readonly line?: number;
  readonly message: string;
}
