/**
 * @module dnsbl
 * DNS block and allow lists: the lookup (query), reply filters (filter), answers that are not
 * listings (codes), list health (health, reporter), reply templates (template) and the lists a
 * configuration names (lists). See docs/dnsbl.md.
 */
export { parseFilter, matchFilter, splitListArg, type ReplyFilter } from './filter.js';
export { classifyAnswer, REFUSAL_CODES, type RefusalCode } from './codes.js';
export { queryList, listingText, reverseIp, lookupErrorText, type ListAnswer } from './query.js';
export { clearListHealth, healthFor, healthFileOf, ListHealthRegistry, readAllHealthFiles, readHealthFile, writeHealthFile, describeResult, type ListHealth, type ListState, type HealthFile } from './health.js';
export { expandTemplate, parseExpansionFilter, TemplateError } from './template.js';
export { configuredLists, type ConfiguredList } from './lists.js';
export { startListHealth, type HealthReporter } from './reporter.js';
