// upload-artifact's search: @actions/glob patterns (one a line, `!` to exclude, `**`, `*`, `?`,
// `[…]`, a trailing `/` for folders, `~` for HOME), every file below a matched folder, hidden files
// left out unless asked, and the artifact's root: the one search path, or the least common
// ancestor of several, or a lone file's folder.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

interface Pattern {
  negate: boolean;
  /** The literal folder the pattern starts from (its segments before the first wildcard). */
  searchPath: string;
  /** Matches the pattern's path or anything below it (the glob's implicit descendants). */
  regex: RegExp;
}

const GLOB_CHARS = /[*?[]/;

function segmentRegex(segment: string): string {
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i]!;
    if (char === '*') out += '[^/]*';
    else if (char === '?') out += '[^/]';
    else if (char === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) out += '\\[';
      else {
        const body = segment
          .slice(i + 1, close)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        out += `[${body}]`;
        i = close;
      }
    } else out += char.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return out;
}

/** A regex for an absolute pattern: `**` is any number of segments; the pattern also matches what lies below what it names. */
export function globRegex(absolutePattern: string): RegExp {
  const segments = absolutePattern.split('/').filter((segment) => segment !== '');
  const body = segments.map((segment) => (segment === '**' ? '(?:/[^/]+)*' : `/${segmentRegex(segment)}`)).join('');
  return new RegExp(`^${body}(?:/.*)?$`);
}

function parsePatterns(text: string, cwd: string, home: string): Pattern[] {
  const patterns: Pattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let negate = false;
    while (line.startsWith('!')) {
      negate = !negate;
      line = line.slice(1).trim();
    }
    if (line === '~' || line.startsWith('~/')) line = home + line.slice(1);
    const absolute = path.resolve(cwd, line);
    const segments = absolute.split('/');
    const firstGlob = segments.findIndex((segment) => GLOB_CHARS.test(segment));
    const searchPath = firstGlob < 0 ? absolute : segments.slice(0, firstGlob).join('/') || '/';
    patterns.push({ negate, searchPath, regex: globRegex(absolute) });
  }
  return patterns;
}

/** @actions/glob's search paths: those of include patterns, without any below another. */
function searchPaths(patterns: Pattern[]): string[] {
  const candidates = [...new Set(patterns.filter((pattern) => !pattern.negate).map((pattern) => pattern.searchPath))];
  return candidates.filter(
    (candidate) =>
      !candidates.some(
        (other) => other !== candidate && candidate.startsWith(other.endsWith('/') ? other : other + '/'),
      ),
  );
}

function leastCommonAncestor(paths: string[]): string {
  const split = paths.map((one) => path.normalize(one).split(path.sep));
  const common: string[] = [];
  for (let i = 0; i < Math.min(...split.map((parts) => parts.length)); i++) {
    const part = split[0]![i]!;
    if (!split.every((parts) => parts[i] === part)) break;
    common.push(part);
  }
  return common.join(path.sep) || path.sep;
}

export interface SearchResult {
  files: string[];
  rootDirectory: string;
}

/** The files `text` (the `path` input) names, searched from `cwd` (the workspace). */
export async function findFilesToUpload(
  text: string,
  opts: { cwd: string; includeHiddenFiles: boolean; home: string },
): Promise<SearchResult> {
  const patterns = parsePatterns(text, opts.cwd, opts.home);
  const roots = searchPaths(patterns);
  const matches = (file: string) =>
    patterns.reduce((matched, pattern) => (pattern.regex.test(file) ? !pattern.negate : matched), false);
  const files = new Set<string>();
  const visitedDirs = new Set<string>();
  const walk = async (item: string): Promise<void> => {
    if (!opts.includeHiddenFiles && path.basename(item).startsWith('.')) return;
    // stat, not lstat: symbolic links are followed, as upload-artifact asks of the glob.
    const stats = await fsp.stat(item).catch(() => undefined);
    if (!stats) return;
    if (stats.isDirectory()) {
      const real = fs.realpathSync(item);
      if (visitedDirs.has(real)) return; // a link cycle
      visitedDirs.add(real);
      for (const entry of (await fsp.readdir(item)).sort()) await walk(path.join(item, entry));
      visitedDirs.delete(real);
    } else if (matches(item)) {
      files.add(item);
    }
  };
  for (const root of roots) await walk(root);
  const found = [...files];
  if (roots.length > 1) return { files: found, rootDirectory: leastCommonAncestor(roots) };
  // A lone file named without a wildcard: its folder is the root, so it lands at the artifact's top.
  if (found.length === 1 && roots[0] === found[0]) return { files: found, rootDirectory: path.dirname(found[0]!) };
  return { files: found, rootDirectory: roots[0] ?? opts.cwd };
}
