// Whether a workflow's `on:` takes an event, with GitHub's filter rules: branches/tags/paths and
// their -ignore forms, `!` patterns (the last matching pattern decides), and activity types.
import type { EventsConfig } from '@actions/workflow-parser/model/workflow-template';

/** What the filters look at, read from the event. */
export interface EventFacts {
  name: string;
  /** refs/heads/x or refs/tags/v1 (for pull_request: the base branch, as refs/heads/base). */
  ref: string;
  /** Changed files, for paths filters; undefined when unknown (then paths filters let the event through). */
  changedFiles?: string[];
  /** The activity type (pull_request: closed...), when the event has one. */
  action?: string;
  /** schedule: the cron that fired. */
  cron?: string;
}

/** pull_request runs on these types unless `types:` says otherwise (GitHub's default). */
const DEFAULT_TYPES: Record<string, string[]> = {
  pull_request: ['opened', 'synchronize', 'reopened'],
  pull_request_target: ['opened', 'synchronize', 'reopened'],
};

/**
 * GitHub's filter pattern as a regular expression: `*` any run of characters but `/`, `**` any
 * run, `?` zero or one of the preceding character, `+` one or more of it, `[...]` a class,
 * `\` escapes the next character.
 */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '\\' && i + 1 < pattern.length) source += escape(pattern[++i]!);
    else if (char === '*' && pattern[i + 1] === '*') {
      // `**/` also matches no folder at all: src/**/*.md matches src/notes.md.
      const slash = pattern[i + 2] === '/';
      source += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?' || char === '+') source += char;
    else if (char === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) source += '\\[';
      else {
        source += pattern.slice(i, end + 1);
        i = end;
      }
    } else source += escape(char);
  }
  return new RegExp(`^${source}$`);
}

function escape(char: string): string {
  return /[.^$|(){}\]\\/]/.test(char) ? `\\${char}` : char;
}

/** The last matching pattern decides; a `!` pattern excludes. */
export function matchesPatterns(value: string, patterns: string[]): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (globToRegExp(negated ? pattern.slice(1) : pattern).test(value)) matched = !negated;
  }
  return matched;
}

interface RefFilters {
  branches?: string[];
  'branches-ignore'?: string[];
  tags?: string[];
  'tags-ignore'?: string[];
  paths?: string[];
  'paths-ignore'?: string[];
  types?: string[];
}

/** Why the event does not run this workflow, or undefined when it does. */
export function triggerMismatch(events: EventsConfig, facts: EventFacts): string | undefined {
  if (!(facts.name in events))
    return `the workflow has no on.${facts.name} (it runs on ${Object.keys(events).join(', ') || 'nothing'})`;
  if (facts.name === 'schedule') return scheduleMismatch(events.schedule ?? [], facts.cron);
  const filters = (events[facts.name] ?? {}) as RefFilters;
  return typesMismatch(filters, facts) ?? refMismatch(filters, facts) ?? pathsMismatch(filters, facts);
}

function scheduleMismatch(schedules: Array<{ cron: string }>, cron: string | undefined): string | undefined {
  if (cron === undefined || schedules.some((schedule) => schedule.cron === cron)) return undefined;
  return `no on.schedule entry has the cron '${cron}'`;
}

function typesMismatch(filters: RefFilters, facts: EventFacts): string | undefined {
  const types = filters.types ?? DEFAULT_TYPES[facts.name];
  if (!types || facts.action === undefined || types.includes(facts.action)) return undefined;
  return `on.${facts.name}.types is [${types.join(', ')}], the event's activity type is ${facts.action}`;
}

function refMismatch(filters: RefFilters, facts: EventFacts): string | undefined {
  const tag = facts.ref.startsWith('refs/tags/');
  const name = facts.ref.replace(/^refs\/(heads|tags)\//, '');
  const own = tag
    ? { include: filters.tags, exclude: filters['tags-ignore'], what: 'tags' }
    : { include: filters.branches, exclude: filters['branches-ignore'], what: 'branches' };
  const other = tag ? (filters.branches ?? filters['branches-ignore']) : (filters.tags ?? filters['tags-ignore']);
  // Only the other kind of ref is filtered: GitHub then skips this kind entirely (push only).
  if (facts.name === 'push' && !own.include && !own.exclude && other)
    return `on.push filters only ${tag ? 'branches' : 'tags'}, the event is for ${facts.ref}`;
  if (own.include && !matchesPatterns(name, own.include))
    return `${name} matches no pattern of on.${facts.name}.${own.what}`;
  if (own.exclude && matchesPatterns(name, own.exclude)) return `${name} matches on.${facts.name}.${own.what}-ignore`;
  return undefined;
}

function pathsMismatch(filters: RefFilters, facts: EventFacts): string | undefined {
  // Path filters are not evaluated for pushes of tags.
  if (facts.ref.startsWith('refs/tags/') || facts.changedFiles === undefined) return undefined;
  const files = facts.changedFiles;
  if (filters.paths && !files.some((file) => matchesPatterns(file, filters.paths!))) {
    return `no changed file matches on.${facts.name}.paths (changed: ${files.join(', ') || 'none'})`;
  }
  if (filters['paths-ignore'] && files.every((file) => matchesPatterns(file, filters['paths-ignore']!))) {
    return `every changed file matches on.${facts.name}.paths-ignore (changed: ${files.join(', ') || 'none'})`;
  }
  return undefined;
}
