/**
 * @module config/reference
 * Renders the parameter catalogue as the configuration reference (docs/configuration.md), so
 * the documentation can never drift from what the code reads (a test compares them).
 */
import { catalogue } from './catalogue.js';

export function renderReference(): string {
  const rows = [...catalogue.values()].sort((a, b) => a.name.localeCompare(b.name));
  let out = `# Configuration reference

mxguard reads Postfix's configuration language: \`main.cf\` (\`name = value\`, \`#\` comments,
continuation lines that start with whitespace, \`$name\` / \`\${name}\` / \`\${name?value}\` /
\`\${name:value}\` expansion, lists separated by commas and/or whitespace) and \`master.cf\`
(service lines such as \`127.0.0.1:2525 inet n - n - - smtpd\` with \`-o name=value\` overrides;
only \`inet\` services running \`smtpd\` are started, other lines are accepted and ignored).

Start with \`mxguard serve --config DIR\`; without \`--config\` the embedded defaults below apply
and the embedded \`master.cf\` is \`127.0.0.1:2525 inet n - n - - smtpd\`.

- A parameter mxguard does not know is reported with its file and line (a Postfix parameter that
  has no effect in mxguard is named as such); start-up continues.
- A bad value (not a number, an unknown choice, out of range, an unreadable certificate) stops
  start-up with the file, line and reason, and exit status 1.
- \`mxguard config\` prints every parameter (\`-n\`: only those set in main.cf; \`-d\`: defaults;
  \`-x\`: expanded; \`-M\`: the SMTP services), like \`postconf\`.

Parameters whose names start with \`mxguard_\` are mxguard's own. All others keep Postfix's name
and meaning; where mxguard's default differs from Postfix's, the table says so and why.

Time values take a unit: \`s\` (seconds), \`m\`, \`h\`, \`d\`, \`w\`; a bare number uses the unit in
the table (seconds unless stated). Sizes are bytes.

| Parameter | Type | Default | Meaning |
|---|---|---|---|
`;
  for (const d of rows) {
    const type = d.type === 'choice' ? `one of ${d.choices!.map((c) => c === '' ? '(empty)' : c).join(', ')}` : d.type + (d.unit && d.unit !== 's' ? ` (unit ${d.unit})` : '');
    const dflt = d.default === '' ? '(empty)' : codeSpan(d.default);
    const pf = d.postfixDefault ? ` *Postfix's default: ${d.postfixDefault}.*` : '';
    const bounds = d.min !== undefined || d.max !== undefined ? ` Range: ${d.min ?? ''}..${d.max ?? ''}.` : '';
    out += `| \`${d.name}\` | ${type} | ${dflt.replace(/\|/g, '\\|')} | ${d.doc.replace(/\|/g, '\\|')}${bounds}${pf} |\n`;
  }
  return out;
}

/** A Markdown code span that survives backticks in the value (CommonMark: a longer fence). */
function codeSpan(v: string): string {
  const runs = v.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = v.startsWith('`') || v.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${v}${pad}${fence}`;
}
